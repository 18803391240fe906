from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from portico_events import (
    ALL_TOPICS,
    CATALOGUE,
    Actor,
    CloudEvent,
    ConnectionUpdated,
    OrganizationCreated,
    PortalLinkIssued,
    UnknownEventType,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_catalogue_holds_every_event_type_the_contract_names():
    assert set(CATALOGUE) >= {
        "portico.organization.created",
        "portico.portal_link.issued",
        "portico.portal_link.revoked",
        "portico.portal_link.redeemed",
        "portico.portal_session.started",
        "portico.portal_session.ended",
        "portico.connection.viewed",
        "portico.connection.created",
        "portico.connection.updated",
        "portico.connection.enabled",
        "portico.connection.disabled",
        "portico.connection.deleted",
    }
    for model in CATALOGUE.values():
        assert model.event_version >= 1
        assert model.topic in ALL_TOPICS


def test_envelope_is_cloudevents_1_0_keyed_by_organization():
    data = OrganizationCreated(organization_id="org_1", display_name="Acme", actor=Actor(kind="api_key", id="key_1"))
    event = CloudEvent.wrap(data, source="/portico/link-issuer", time=NOW)
    assert event.specversion == "1.0"
    assert event.id.startswith("evt_")
    assert event.subject == "org_1"
    assert event.type == "portico.organization.created"
    assert event.dataversion == 1
    assert event.topic == "portico.links"


def test_event_survives_the_wire_unchanged_and_typed():
    data = PortalLinkIssued(
        organization_id="org_1", link_id="lnk_1", kind="magic", token_sha256="ab" * 32, expire_time=NOW
    )
    event = CloudEvent.wrap(data, source="/portico/link-issuer", time=NOW)
    decoded = CloudEvent.from_bytes(event.to_bytes())
    assert decoded == event
    assert decoded.typed_data() == data


def test_unknown_event_type_is_refused_by_name():
    event = CloudEvent(
        id="evt_x", source="/elsewhere", type="portico.nope", time=NOW, subject="org_1", dataversion=1, data={}
    )
    with pytest.raises(UnknownEventType, match="portico.nope"):
        event.typed_data()


def test_payload_with_unexpected_field_is_rejected():
    with pytest.raises(ValidationError):
        ConnectionUpdated.model_validate(
            {
                "organization_id": "org_1",
                "connection_id": "conn_1",
                "connection_type": "oidc",
                "provider": "okta",
                "status": "configured",
                "version": 2,
                "client_secret": "must-never-travel",
            }
        )
