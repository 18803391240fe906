"""`python -m link_issuer`: run the link-issuer service."""
from link_issuer.app import create_app
from shared.service import run_service
from shared.settings import settings_for


def main() -> None:
    settings = settings_for("link-issuer")
    run_service("link-issuer", create_app, settings, settings.link_issuer_port)


if __name__ == "__main__":
    main()
