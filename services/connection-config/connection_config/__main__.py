"""`python -m connection_config`: run the connection-config service."""
from connection_config.app import create_app
from shared.service import run_service
from shared.settings import settings_for


def main() -> None:
    settings = settings_for("connection-config")
    run_service("connection-config", create_app, settings, settings.connection_config_port)


if __name__ == "__main__":
    main()
