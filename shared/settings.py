"""Every Portico setting, read from PORTICO_* environment variables with defaults that work locally.

Secrets have no defaults: a service started without one it needs exits at once naming the variable
(`settings_for`); `make up` generates them per machine in .run/secrets.env.
"""
import sys
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PORTICO_"
# deploy/local's private cluster lets Portico's roles in from 127.0.0.1 without a password; every other
# server gets the DSNs (with their credentials) from the environment.
LOCAL_POSTGRES = "postgresql://portico@127.0.0.1:5432"
# A key under this many bytes of key material is refused (hex is read as bytes, anything else as UTF-8).
MIN_KEY_BYTES = 32
SecretName = Literal["internal_token", "link_signing_key", "encryption_keys"]
# The secrets each service cannot start without.
SERVICE_SECRETS: dict[str, tuple[SecretName, ...]] = {
    "link-issuer": ("internal_token", "link_signing_key"),
    "portal-session": ("internal_token", "link_signing_key"),
    "connection-config": ("internal_token", "encryption_keys"),
    "audit": ("internal_token",),
    # link-issuer's console issues links and API keys on link-issuer's database: the same secrets.
    "console": ("internal_token", "link_signing_key"),
}


class MissingSecret(RuntimeError):
    """A secret the process needs is unset or too short; the message names the variable."""


class Settings(BaseSettings):
    """One settings object for all services; each service reads the fields it needs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    public_url: str = "http://127.0.0.1:8080"
    http_host: str = "127.0.0.1"
    link_issuer_port: int = 8101
    portal_session_port: int = 8102
    connection_config_port: int = 8103
    audit_port: int = 8104
    console_port: int = 8105

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
    # Shared by the proxy and the services to vouch for each other's forwarded requests (>= 32 bytes).
    internal_token: SecretStr | None = None
    # HMAC key shared by link-issuer and portal-session to sign portal link tokens (hex or any string, >= 32 bytes).
    link_signing_key: SecretStr | None = None
    # Origins (scheme://host[:port]) that return_url / success_url may point at, besides each
    # organization's allowed_frame_ancestors. Comma-separated.
    allowed_redirect_origins: str = ""
    portal_session_idle_seconds: int = 24 * 3600
    portal_session_max_seconds: int = 7 * 24 * 3600
    redeem_failures_per_minute: int = 20
    connection_config_internal_url: str = "http://127.0.0.1:8103"
    # Where portal-session asks link-issuer (the truth about links) before a link opens a session.
    link_issuer_internal_url: str = "http://127.0.0.1:8101"
    # Where the operator console reads the audit log (the audit service's own port, not the proxy).
    audit_internal_url: str = "http://127.0.0.1:8104"
    outbound_allow_hosts: str = ""
    # The apps' sign-in callbacks (comma-separated, compared exactly): GET /sso/v1/authorize sends the
    # browser back only to one of these. Empty: no app may start a sign-in.
    sso_redirect_uris: str = ""
    # How far the IdP's clock may be from ours when a SAML assertion's or an ID token's times are checked.
    sso_max_clock_skew_seconds: int = Field(default=120, ge=0, le=600)
    outbox_poll_interval_ms: int = 500
    trusted_proxy_ips: str = "127.0.0.1"
    # Keys that encrypt SSO secrets at rest: comma-separated `kid:<64 hex chars>`, the first encrypts,
    # every one decrypts (rotation).
    encryption_keys: SecretStr | None = None

    # audit: the service reads and appends as this restricted role (no UPDATE, DELETE or TRUNCATE);
    # unset means role portico_audit_writer on audit_database_url's server and database, while
    # audit_database_url (the owner) only runs migrations and archiving. See docs/audit.md.
    audit_writer_database_url: SecretStr | None = None
    # Days a record stays in the live log before `python -m audit.archive` may move it to a file; 0 = forever.
    audit_retention_days: int = 0
    # Base64 of a 32-byte Ed25519 seed; when set, chain heads are signed into audit_checkpoint.
    audit_checkpoint_signing_key: SecretStr | None = None
    audit_checkpoint_interval_s: int = 60
    # Seconds between the whole log's scheduled verifications (the result is in /metrics:
    # portico_audit_chain_broken); 0 turns them off. The first runs a minute after start-up.
    audit_verify_interval_s: int = Field(default=3600, ge=0)

    # portal branding: the SaaS vendor's name, logo (an https URL, or a path on Portico's origin) and
    # accent colour (#rgb or #rrggbb) on every page the IT admin sees.
    portal_product_name: str = "Portico"
    portal_logo_url: str = ""
    portal_accent_color: str = "#3b5bdb"

    # operator console (`python -m link_issuer.console`, a process of its own): session lifetimes, and
    # sign-in lockout. An account is locked after console_lockout_failures wrong passwords, a client
    # address after console_lockout_address_failures, each for console_lockout_seconds after the last one counted.
    console_session_idle_seconds: int = 30 * 60
    console_session_max_seconds: int = 12 * 3600
    console_lockout_failures: int = 20
    console_lockout_address_failures: int = 100
    console_lockout_seconds: int = 15 * 60


    def secret(self, name: SecretName) -> str:
        """A required secret's value, or MissingSecret naming its variable when it is unset or too short."""
        value: SecretStr | None = getattr(self, name)
        problem = secret_problem(name, value)
        if problem or value is None:
            raise MissingSecret(problem)
        return value.get_secret_value()


def key_material(value: str) -> bytes:
    """The bytes a key string stands for: hex is decoded, anything else is taken as UTF-8."""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


def secret_problem(name: SecretName, value: SecretStr | None) -> str | None:
    variable = f"{ENV_PREFIX}{name.upper()}"
    if value is None or not value.get_secret_value():
        return f"{variable} is not set; generate one with: openssl rand -hex 32"
    text = value.get_secret_value()
    keys = [entry.partition(":")[2] for entry in text.split(",")] if name == "encryption_keys" else [text]
    if any(len(key_material(key.strip())) < MIN_KEY_BYTES for key in keys):
        return f"{variable} has under {MIN_KEY_BYTES} bytes of key material; generate one with: openssl rand -hex 32"
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_for(service: str) -> Settings:
    """The settings a service starts with; without a secret it needs, one line on stderr and exit 2."""
    settings = get_settings()
    for name in SERVICE_SECRETS[service]:
        if problem := secret_problem(name, getattr(settings, name)):
            print(f"{service}: {problem}", file=sys.stderr)
            raise SystemExit(2)
    return settings


def known_environment_variables() -> set[str]:
    """The PORTICO_* names the settings read, for docs and for checking deploy files."""
    return {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
