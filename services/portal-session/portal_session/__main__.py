"""`python -m portal_session`: run the portal-session service."""
from portal_session.app import create_app
from shared.service import run_service
from shared.settings import settings_for


def main() -> None:
    settings = settings_for("portal-session")
    run_service("portal-session", create_app, settings, settings.portal_session_port)


if __name__ == "__main__":
    main()
