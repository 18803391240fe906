"""link-issuer learns redemptions from portico.sessions: only portal_link.redeemed counts, the earliest wins."""
from datetime import UTC, datetime, timedelta

from aiokafka import ConsumerRecord

from link_issuer.handlers import redemptions
from portico_events import CloudEvent, PortalLinkRedeemed, PortalSessionEnded

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def record(event: CloudEvent | bytes, with_header: bool = True) -> ConsumerRecord:
    value = event if isinstance(event, bytes) else event.to_bytes()
    headers = [("ce_type", event.type.encode())] if with_header and isinstance(event, CloudEvent) else []
    return ConsumerRecord("portico.sessions", 0, 0, 0, 0, b"org_1", value, None, 0, len(value), headers)


def redeemed(link_id: str, at: datetime) -> CloudEvent:
    data = PortalLinkRedeemed(organization_id="org_1", link_id=link_id, session_id="ses_1")
    return CloudEvent.wrap(data, source="/test", time=at)


def test_only_redemptions_count_and_the_earliest_time_is_kept():
    ended = CloudEvent.wrap(
        PortalSessionEnded(organization_id="org_1", session_id="ses_1", link_id="lnk_b", reason="inactive"),
        source="/test", time=T0,
    )
    found = redemptions([
        record(redeemed("lnk_a", T0 + timedelta(seconds=5))),
        record(ended),
        record(redeemed("lnk_a", T0)),
        record(redeemed("lnk_c", T0), with_header=False),
        record(b"not a cloudevent"),
    ])
    assert found == {"lnk_a": T0, "lnk_c": T0}
