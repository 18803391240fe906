"""Wiring for connection-config: Postgres (with the outbox relay), Kafka, the key ring and the HTTP routes."""
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from connection_config.api import router
from connection_config.connections import ConnectionService
from connection_config.handlers import register_handlers
from connection_config.metrics import certificate_watch
from connection_config.outbound import Fetcher, OutboundPolicy
from connection_config.secretbox import Keyring
from connection_config.sign_in.api import router as sign_in_router
from connection_config.sign_in.attempts import SignIns
from connection_config.sign_in.domain import registered_redirect_uris
from connection_config.sign_in.idp import IdentityProviders
from shared.broker import make_broker
from shared.ids import SystemClock
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

SERVICE = "connection-config"


def create_app(settings: Settings) -> FastAPI:
    keys = settings.secret("encryption_keys")
    broker = make_broker(settings, SERVICE)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        pools=[PoolSpec("main", settings.connection_config_database_url.get_secret_value())],
        migrations=Path(__file__).parent / "migrations",
        relay_outbox=True,
    )
    register_handlers(runtime)
    runtime.components.append(certificate_watch(runtime.require_pool))
    app = runtime.http_app()
    keyring = Keyring.from_setting(keys)
    policy = OutboundPolicy.from_setting(settings.outbound_allow_hosts)
    app.state.connections = ConnectionService(
        pool=runtime.require_pool,
        keyring=keyring,
        fetcher=Fetcher(policy),
        clock=SystemClock(),
        public_url=settings.public_url,
    )
    app.state.sign_ins = SignIns(
        pool=runtime.require_pool,
        providers=IdentityProviders(keyring=keyring, policy=policy, public_url=settings.public_url,
                                    max_clock_skew=timedelta(seconds=settings.sso_max_clock_skew_seconds)),
        clock=SystemClock(),
        public_url=settings.public_url,
        redirect_uris=registered_redirect_uris(settings.sso_redirect_uris),
    )
    # First: its /internal/portal/connections/{id}/tests would otherwise match api.py's /{id}/{action}.
    app.include_router(sign_in_router)
    app.include_router(router)
    return app
