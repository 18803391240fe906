"""Every Portico setting, read from PORTICO_* environment variables with defaults that work locally."""
from functools import lru_cache
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PORTICO_"
LOCAL_POSTGRES = "postgresql://portico:portico@127.0.0.1:5432"
DEVELOPMENT_ENCRYPTION_KEYS = "insecure-development-key:" + "00" * 32


class Settings(BaseSettings):
    """One settings object for all services; each service reads the fields it needs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    public_url: str = "http://127.0.0.1:8080"
    http_host: str = "127.0.0.1"
    link_issuer_port: int = 8101
    portal_session_port: int = 8102
    connection_config_port: int = 8103
    audit_port: int = 8104

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # PLAINTEXT locally; SASL_SSL with SCRAM where a cluster requires it (see shared/broker.py).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_ca_file: str = ""  # PEM bundle to trust for SSL/SASL_SSL; empty = system CAs
    kafka_topic_partitions: int = 6
    kafka_replication_factor: int = 1
    redis_url: str = "redis://127.0.0.1:6379/0"
    link_issuer_database_url: SecretStr = SecretStr(f"{LOCAL_POSTGRES}/portico_link_issuer")
    connection_config_database_url: SecretStr = SecretStr(f"{LOCAL_POSTGRES}/portico_connection_config")
    audit_database_url: SecretStr = SecretStr(f"{LOCAL_POSTGRES}/portico_audit")

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    bootstrap_api_key: SecretStr | None = None
    # Shared by the proxy and the services to vouch for each other's forwarded requests.
    # deploy/local generates a random one per machine; set your own everywhere else.
    internal_token: SecretStr = SecretStr("portico-local-development-only")
    # HMAC key shared by link-issuer and portal-session to sign portal link tokens (hex or any string).
    link_signing_key: SecretStr = SecretStr("portico-local-development-only")
    # Origins (scheme://host[:port]) that return_url / success_url may point at, besides each
    # organization's allowed_frame_ancestors. Comma-separated.
    allowed_redirect_origins: str = ""
    portal_session_idle_seconds: int = 24 * 3600
    portal_session_max_seconds: int = 7 * 24 * 3600
    redeem_failures_per_minute: int = 20
    connection_config_internal_url: str = "http://127.0.0.1:8103"
    # Where link-issuer's operator console reads the audit log (the audit service's own port, not the proxy).
    audit_internal_url: str = "http://127.0.0.1:8104"
    outbound_allow_hosts: str = ""
    outbox_poll_interval_ms: int = 500
    trusted_proxy_ips: str = "127.0.0.1"
    # Keys that encrypt SSO secrets at rest: comma-separated `kid:<64 hex chars>`, the first encrypts,
    # every one decrypts (rotation). The default is public and only for development: services warn.
    encryption_keys: SecretStr = SecretStr(DEVELOPMENT_ENCRYPTION_KEYS)

    # audit: the service reads and appends as this restricted role (no UPDATE, DELETE or TRUNCATE);
    # unset means role portico_audit_writer on audit_database_url's server and database, while
    # audit_database_url (the owner) only runs migrations and archiving. See docs/audit.md.
    audit_writer_database_url: SecretStr | None = None
    # Days a record stays in the live log before `python -m audit.archive` may move it to a file; 0 = forever.
    audit_retention_days: int = 0
    # Base64 of a 32-byte Ed25519 seed; when set, chain heads are signed into audit_checkpoint.
    audit_checkpoint_signing_key: SecretStr | None = None
    audit_checkpoint_interval_s: int = 60

    # portal branding: the SaaS vendor's name, logo (an https URL, or a path on Portico's origin) and
    # accent colour (#rgb or #rrggbb) on every page the IT admin sees.
    portal_product_name: str = "Portico"
    portal_logo_url: str = ""
    portal_accent_color: str = "#3b5bdb"

    # operator console (served by link-issuer): session lifetimes, and sign-in lockout. An account is
    # locked after console_lockout_failures wrong passwords, a client address after
    # console_lockout_address_failures, each for console_lockout_seconds after the last one counted.
    console_session_idle_seconds: int = 30 * 60
    console_session_max_seconds: int = 12 * 3600
    console_lockout_failures: int = 20
    console_lockout_address_failures: int = 100
    console_lockout_seconds: int = 15 * 60


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def known_environment_variables() -> set[str]:
    """The PORTICO_* names the settings read, for docs and for checking deploy files."""
    return {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
