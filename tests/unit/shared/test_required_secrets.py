"""No built-in secrets: a service without a secret it needs, or with a short one, exits at once naming it."""
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from shared.settings import ENV_PREFIX, MissingSecret, Settings, secret_problem

GOOD = {
    "PORTICO_INTERNAL_TOKEN": "ab" * 32,
    "PORTICO_LINK_SIGNING_KEY": "cd" * 32,
    "PORTICO_ENCRYPTION_KEYS": "k1:" + "ef" * 32,
}
SERVICES = {
    "link_issuer": ("PORTICO_INTERNAL_TOKEN", "PORTICO_LINK_SIGNING_KEY"),
    "portal_session": ("PORTICO_INTERNAL_TOKEN", "PORTICO_LINK_SIGNING_KEY"),
    "connection_config": ("PORTICO_INTERNAL_TOKEN", "PORTICO_ENCRYPTION_KEYS"),
    "audit": ("PORTICO_INTERNAL_TOKEN",),
    "link_issuer.console": ("PORTICO_INTERNAL_TOKEN", "PORTICO_LINK_SIGNING_KEY"),
}


def start(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start a service the way deploy scripts do, with nothing listening behind it; it must not get far."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return subprocess.run(
        [sys.executable, "-m", module], env={**clean, **env, "PORTICO_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True, text=True, timeout=30,
    )


@pytest.mark.parametrize(("module", "variable"), [(m, v) for m, names in SERVICES.items() for v in names])
def test_a_service_without_a_secret_it_needs_exits_at_once_naming_it(module, variable):
    result = start(module, {k: v for k, v in GOOD.items() if k != variable})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "not set" in lines[0], result.stderr


@pytest.mark.parametrize("short", ["portico-local-development-only", "ab" * 31, "k1:" + "ef" * 16])
def test_a_secret_under_32_bytes_of_key_material_is_refused(short):
    variable = "PORTICO_ENCRYPTION_KEYS" if short.startswith("k1:") else "PORTICO_LINK_SIGNING_KEY"
    result = start("portal_session" if variable != "PORTICO_ENCRYPTION_KEYS" else "connection_config", {**GOOD, variable: short})
    assert result.returncode == 2
    assert variable in result.stderr and "32 bytes" in result.stderr


def test_no_secret_has_a_default():
    settings = Settings(_env_file=None)
    for name in ("internal_token", "link_signing_key", "encryption_keys"):
        if f"{ENV_PREFIX}{name.upper()}" not in os.environ:
            assert getattr(settings, name) is None
    with pytest.raises(MissingSecret, match="PORTICO_LINK_SIGNING_KEY"):
        Settings(link_signing_key=None).secret("link_signing_key")


def test_key_material_counts_hex_as_bytes_and_other_text_as_utf8():
    assert secret_problem("internal_token", SecretStr("ab" * 32)) is None  # 32 bytes as hex
    assert secret_problem("internal_token", SecretStr("x" * 32)) is None  # 32 bytes of text
    assert secret_problem("internal_token", SecretStr("ab" * 16)) is not None  # 32 hex characters = 16 bytes
    assert secret_problem("encryption_keys", SecretStr(f"new:{'11' * 32},old:{'22' * 8}")) is not None


def test_no_database_password_is_built_in():
    """The defaults point at make up's private cluster, which lets Portico's roles in from 127.0.0.1 without one."""
    from urllib.parse import urlsplit

    from audit.app import writer_database_url

    settings = Settings(_env_file=None)
    for name in ("link_issuer_database_url", "connection_config_database_url", "audit_database_url"):
        if f"{ENV_PREFIX}{name.upper()}" not in os.environ:
            assert urlsplit(getattr(settings, name).get_secret_value()).password is None
    writer = writer_database_url(Settings(audit_database_url="postgresql://owner:s3cret@db.internal:5432/portico_audit"))
    assert writer == "postgresql://portico_audit_writer@db.internal:5432/portico_audit"
