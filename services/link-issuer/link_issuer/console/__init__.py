"""The operator console: its JSON API, pages, sessions and the calls it makes to other services."""
