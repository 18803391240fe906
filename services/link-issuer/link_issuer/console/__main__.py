"""`python -m link_issuer.console`: run the operator console."""
from link_issuer.console.app import create_app
from shared.service import run_service
from shared.settings import settings_for


def main() -> None:
    settings = settings_for("console")
    run_service("console", create_app, settings, settings.console_port)


if __name__ == "__main__":
    main()
