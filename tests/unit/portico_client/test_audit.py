"""portico_client's audit calls against an in-memory transport: following cursors from a given one, the verify
report's members."""
import httpx

from portico_client import AsyncPortico, Portico, VerifyReport


def record(sequence: int) -> dict[str, object]:
    return {
        "sequence": sequence, "organization_id": "org_1", "organization_sequence": sequence, "event_id": f"evt_{sequence}",
        "type": "portico.portal_link.issued", "dataversion": 1, "time": "2026-11-26T12:00:00.000000Z",
        "recorded_at": "2026-11-26T12:00:00.000000Z", "source": "portico/link-issuer",
        "actor": {"kind": "api_key", "id": "key_1"}, "target": None, "data": {}, "prev_hash": "0" * 64, "hash": "f" * 64,
    }


def pages(request: httpx.Request) -> httpx.Response:
    """Records 1 to 6, two a page; the cursor is the last sequence seen."""
    after = int(request.url.params.get("cursor", "0"))
    assert request.url.params["limit"] == "2"
    events = [record(s) for s in range(after + 1, min(after + 2, 6) + 1)]
    return httpx.Response(200, json={"events": events, "next_cursor": str(after + 2) if after + 2 < 6 else None})


def test_events_follow_cursors_from_the_start_or_from_a_given_cursor():
    with Portico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(pages)) as client:
        assert [e.sequence for e in client.audit.events(page_size=2)] == [1, 2, 3, 4, 5, 6]
        assert [e.sequence for e in client.audit.events(page_size=2, cursor="2")] == [3, 4, 5, 6]


async def test_async_events_follow_cursors_from_a_given_cursor():
    async with AsyncPortico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(pages)) as client:
        assert [e.sequence async for e in client.audit.events(page_size=2, cursor="4")] == [5, 6]


def test_verify_report_has_the_api_members_in_its_order_and_keeps_new_ones():
    body = {"ok": True, "organization_id": None, "checked": 12, "last_sequence": 40, "last_hash": "a" * 64,
            "archived_through": 28, "checkpoints_checked": 3, "first_broken": None, "added_later": 1}
    with Portico("http://portico.test", "key_1.secret",
                 transport=httpx.MockTransport(lambda _: httpx.Response(200, json=body))) as client:
        report = client.audit.verify()
    assert (report.checked, report.last_sequence, report.archived_through, report.checkpoints_checked) == (12, 40, 28, 3)
    assert list(report.model_dump()) == list(body)
    older = VerifyReport.model_validate({"ok": False, "checked": 1, "first_broken": {"sequence": 1, "reason": "hash"}})
    assert (older.checkpoints_checked, older.last_sequence, older.organization_id) == (0, None, None)
