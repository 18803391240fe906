"""`python -m audit`: run the audit service."""
from audit.app import create_app
from shared.service import run_service
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    run_service("audit", create_app, settings, settings.audit_port)


if __name__ == "__main__":
    main()
