"""`python -m audit`: run the audit service."""
from audit.app import create_app
from shared.service import run_service
from shared.settings import settings_for


def main() -> None:
    settings = settings_for("audit")
    run_service("audit", create_app, settings, settings.audit_port)


if __name__ == "__main__":
    main()
