import re

from shared.ids import new_id
from shared.settings import Settings, known_environment_variables


def test_ids_carry_their_prefix_and_do_not_repeat():
    ids = {new_id("org") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"org_[0-9a-hjkmnp-tv-z]{26}", value) for value in ids)


def test_settings_come_from_portico_environment_variables(monkeypatch):
    monkeypatch.setenv("PORTICO_KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9092")
    monkeypatch.setenv("PORTICO_AUDIT_PORT", "9999")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "kafka.internal:9092"
    assert settings.audit_port == 9999


def test_defaults_point_at_the_local_stack():
    settings = Settings()
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert "127.0.0.1:5432/portico_audit" in settings.audit_database_url.get_secret_value()


def test_database_urls_never_print_their_password():
    assert "portico:portico" not in repr(Settings())


def test_known_environment_variables_names_every_setting():
    names = known_environment_variables()
    assert {"PORTICO_KAFKA_BOOTSTRAP_SERVERS", "PORTICO_BOOTSTRAP_API_KEY", "PORTICO_OUTBOUND_ALLOW_HOSTS"} <= names
    assert all(name.startswith("PORTICO_") for name in names)
