"""Connection rules without servers: statuses, masked diffs, the API view, editing, and encryption at rest."""
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connection_config import editing, views
from connection_config.model import (
    Connection,
    ConnectionProblem,
    OidcSettings,
    VersionMismatch,
    check_provider,
    check_version,
    diff,
    disable,
    enable,
    is_tested,
    mark_deleted,
    missing_fields,
    settled_status,
)
from connection_config.saml import parse_certificate
from connection_config.schemas import OidcInput, SamlInput
from connection_config.secretbox import Keyring, KeyringError, SecretUnavailable
from tests.fixtures.identity_providers import expired_certificate, make_certificate, pem, vendor_metadata

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY_A = "a" * 64
KEY_B = "b" * 64
SECRET = "s3cr3t-value-0123456789-WXYZ"


def draft(connection_type: str = "saml") -> Connection:
    return Connection(
        id="conn_test", organization_id="org_a", type=connection_type, provider="okta", status="draft", version=1,
        created_at=NOW, created_by="portal_session:ses_1", updated_at=NOW, updated_by="portal_session:ses_1",
    )


def configured_saml(now: datetime = NOW) -> Connection:
    cert = parse_certificate(pem(make_certificate(valid_from=now - timedelta(days=1))), "f")
    settings, _ = editing.apply_saml(
        editing.default_saml(),
        SamlInput(idp_entity_id="https://idp.example.com", sso_url="https://idp.example.com/sso",
                  certificates=[cert.pem]),
        metadata=None, now=now,
    )
    connection = replace(draft(), saml=settings)
    return replace(connection, status=settled_status(connection))


def saml_that_passed_a_test() -> Connection:
    """Configured, and its details (version 1) have passed a connection test."""
    return replace(configured_saml(), tested_version=1)


def test_saml_draft_becomes_configured_when_complete():
    assert missing_fields(replace(draft(), saml=editing.default_saml())) == [
        "saml.idp_entity_id", "saml.sso_url", "saml.certificates"]
    assert configured_saml().status == "configured"


def test_oidc_needs_a_secret_to_be_complete():
    oidc_draft = replace(draft("oidc"), oidc=OidcSettings(issuer="https://i", client_id="c"))
    assert missing_fields(oidc_draft) == ["oidc.client_secret"]


def test_enable_disable_cycle_bumps_the_version_each_time():
    enabled = enable(saml_that_passed_a_test(), now=NOW, actor="portal_session:ses_2")
    assert (enabled.status, enabled.version, enabled.updated_by) == ("enabled", 2, "portal_session:ses_2")
    assert enable(enabled, now=NOW, actor="x") is enabled  # already enabled: no new version
    disabled = disable(enabled, now=NOW, actor="x")
    assert (disabled.status, disabled.version) == ("disabled", 3)
    # Disabling changed no IdP detail: the test of version 1 still counts.
    assert enable(disabled, now=NOW, actor="x").status == "enabled"


def test_only_a_connection_whose_current_details_passed_a_test_can_be_enabled():
    for untested in (configured_saml(), replace(configured_saml(), tested_version=1, settings_version=2)):
        with pytest.raises(ConnectionProblem) as caught:
            enable(untested, now=NOW, actor="x")
        assert (caught.value.code, caught.value.status) == ("connection_not_tested", 409)
        assert "Test connection" in caught.value.message
        assert not is_tested(untested)
    assert is_tested(replace(configured_saml(), tested_version=3, settings_version=2))


def test_draft_cannot_be_enabled_and_says_what_is_missing():
    with pytest.raises(ConnectionProblem) as caught:
        enable(replace(draft(), saml=editing.default_saml()), now=NOW, actor="x")
    assert (caught.value.status, caught.value.field) == (409, "saml.idp_entity_id")


def test_connection_whose_certificates_all_expired_cannot_be_enabled():
    with pytest.raises(ConnectionProblem) as caught:
        enable(saml_that_passed_a_test(), now=NOW + timedelta(days=4000), actor="x")
    assert caught.value.code == "certificate_expired"


def test_only_an_enabled_connection_can_be_disabled():
    with pytest.raises(ConnectionProblem) as caught:
        disable(configured_saml(), now=NOW, actor="x")
    assert caught.value.status == 409


def test_stale_version_reports_the_current_one():
    with pytest.raises(VersionMismatch) as caught:
        check_version(configured_saml(), 7)
    assert caught.value.current_version == 1


def test_provider_must_fit_the_type():
    assert check_provider("saml", "entra_id") == "entra_id"
    with pytest.raises(ConnectionProblem) as caught:
        check_provider("oidc", "generic_saml")
    assert caught.value.field == "provider"


def test_diff_masks_the_secret():
    keyring = Keyring.from_setting(f"k1:{KEY_A}")
    before = replace(draft("oidc"), oidc=OidcSettings(issuer="https://i", client_id="old"))
    after = replace(before, oidc=replace(before.oidc, client_id="new"),
                    client_secret=keyring.seal(SECRET, connection_id="conn_test", purpose="oidc.client_secret"))
    changes = {change.field: change for change in diff(before, after, secret_changed=True)}
    assert (changes["oidc.client_id"].old, changes["oidc.client_id"].new) == ("old", "new")
    assert (changes["oidc.client_secret"].old, changes["oidc.client_secret"].new) == (None, "[changed]")
    assert SECRET not in repr(changes)


def test_deleting_drops_the_secret():
    keyring = Keyring.from_setting(f"k1:{KEY_A}")
    connection = replace(draft("oidc"), client_secret=keyring.seal(SECRET, connection_id="conn_test", purpose="p"))
    deleted = mark_deleted(connection, now=NOW, actor="x")
    assert (deleted.status, deleted.client_secret) == ("deleted", None)


def test_view_shows_whether_a_secret_is_set_never_the_secret():
    keyring = Keyring.from_setting(f"k1:{KEY_A}")
    connection = replace(draft("oidc"), oidc=OidcSettings(issuer="https://i", client_id="c"),
                         client_secret=keyring.seal(SECRET, connection_id="conn_test", purpose="p"))
    view = views.render(connection, public_url="http://127.0.0.1:8080", now=NOW,
                        client_secret_last4=views.secret_hint(SECRET))
    assert view["oidc"]["client_secret_set"] is True
    assert view["oidc"]["client_secret_last4"] == "WXYZ"
    assert SECRET not in str(view)
    assert view["sp"] == {"redirect_uri": "http://127.0.0.1:8080/sso/oidc/conn_test/callback"}
    assert views.secret_hint("tiny") is None


def test_view_lists_missing_fields_of_a_draft_and_expiring_certificates():
    view = views.render(replace(draft(), saml=editing.default_saml()), public_url="https://p", now=NOW)
    assert [w["field"] for w in view["warnings"]] == ["saml.idp_entity_id", "saml.sso_url", "saml.certificates"]
    assert view["sp"]["acs_url"] == "https://p/sso/saml/conn_test/acs"
    expiring = views.render(configured_saml(), public_url="https://p", now=NOW + timedelta(days=3640))
    assert [w["code"] for w in expiring["warnings"]] == ["certificate_expiring"]


def test_metadata_and_typed_fields_cannot_be_mixed():
    with pytest.raises(ConnectionProblem) as caught:
        editing.check_saml_sources(SamlInput(metadata_xml="<x/>", sso_url="https://x"))
    assert caught.value.field == "saml.sso_url"
    with pytest.raises(ConnectionProblem):
        editing.check_saml_sources(SamlInput(metadata_xml="<x/>", metadata_url="https://x"))


def test_metadata_picks_the_email_name_id_format_the_idp_offers():
    from connection_config.saml import parse_idp_metadata

    metadata = parse_idp_metadata(vendor_metadata("okta", make_certificate()).encode(), now=datetime.now(UTC), field="f")
    settings, notes = editing.apply_saml(editing.default_saml(), SamlInput(metadata_xml="…"), metadata=metadata,
                                         now=datetime.now(UTC))
    assert settings.name_id_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert settings.idp_entity_id == "http://www.okta.com/exk1fcia6d6EMsf331d8"
    assert notes == ()


def test_entered_expired_certificate_is_refused_by_position():
    with pytest.raises(ConnectionProblem) as caught:
        editing.apply_saml(editing.default_saml(), SamlInput(certificates=[pem(expired_certificate())]),
                           metadata=None, now=datetime.now(UTC))
    assert caught.value.field == "saml.certificates.0"


def test_oidc_scopes_and_client_id_are_checked():
    settings, _ = editing.apply_oidc(OidcSettings(), OidcInput(client_id=" abc ", scopes=["openid", "groups"]),
                                     issuer=None, discovery=None)
    assert (settings.client_id, settings.scopes) == ("abc", ("openid", "groups"))


# Encryption at rest ------------------------------------------------------------------------------

def test_secret_round_trips_and_is_bound_to_its_connection():
    keyring = Keyring.from_setting(f"k1:{KEY_A}")
    sealed = keyring.seal(SECRET, connection_id="conn_a", purpose="oidc.client_secret")
    assert SECRET.encode() not in sealed.ciphertext
    assert sealed.key_id == "k1"
    assert keyring.open(sealed, connection_id="conn_a", purpose="oidc.client_secret") == SECRET
    with pytest.raises(SecretUnavailable):
        keyring.open(sealed, connection_id="conn_b", purpose="oidc.client_secret")


def test_rotation_decrypts_with_old_keys_and_rewraps_under_the_new_one():
    old_ring = Keyring.from_setting(f"old:{KEY_A}")
    sealed = old_ring.seal(SECRET, connection_id="conn_a", purpose="p")
    rotated = Keyring.from_setting(f"new:{KEY_B}, old:{KEY_A}")
    assert rotated.open(sealed, connection_id="conn_a", purpose="p") == SECRET
    rewrapped = rotated.rewrap(sealed, connection_id="conn_a", purpose="p")
    assert rewrapped.key_id == "new"
    assert Keyring.from_setting(f"new:{KEY_B}").open(rewrapped, connection_id="conn_a", purpose="p") == SECRET
    with pytest.raises(SecretUnavailable):
        Keyring.from_setting(f"new:{KEY_B}").open(sealed, connection_id="conn_a", purpose="p")


def test_tampered_ciphertext_is_detected():
    keyring = Keyring.from_setting(f"k1:{KEY_A}")
    sealed = keyring.seal(SECRET, connection_id="conn_a", purpose="p")
    flipped = replace(sealed, ciphertext=sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]))
    with pytest.raises(SecretUnavailable):
        keyring.open(flipped, connection_id="conn_a", purpose="p")


@pytest.mark.parametrize("setting", ["", "k1", f"k1:{KEY_A[:-2]}", "k1:" + "z" * 64, f"k1:{KEY_A},k1:{KEY_B}",
                                     f"bad id:{KEY_A}"])
def test_malformed_key_setting_is_refused_without_echoing_keys(setting):
    with pytest.raises(KeyringError) as caught:
        Keyring.from_setting(setting)
    assert KEY_A not in str(caught.value)
