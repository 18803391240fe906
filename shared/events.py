"""Moved to the portico-events package (clients/events); this re-export keeps `from shared.events import …` working."""
from portico_events import *  # noqa: F403
from portico_events import __all__  # noqa: F401
