"""Crafted input through the running stack: refused with a 4xx JSON error or made harmless, never a 500."""
import csv
import io
import json

import httpx

from tests.integration.polling import eventually

FORMULA = '=HYPERLINK("http://x","click")'


async def test_csv_export_shows_a_formula_a_caller_planted_as_text(api: httpx.AsyncClient):
    created = await api.post("/api/v1/organizations", json={"display_name": FORMULA}, headers={"User-Agent": FORMULA})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]

    async def exported_rows() -> list[dict[str, str]]:
        answer = await api.get("/api/v1/audit/export", params={"format": "csv", "organization_id": org_id})
        assert answer.status_code == 200, answer.text
        return list(csv.DictReader(io.StringIO(answer.text)))

    rows = await eventually(exported_rows, lambda rows: any(r["type"] == "portico.organization.created" for r in rows))
    [row] = [r for r in rows if r["type"] == "portico.organization.created"]
    assert row["user_agent"] == f"'{FORMULA}"
    assert '"display_name":"=HYPERLINK' in row["data"]  # inside JSON, so never at the start of a cell

    jsonl = await api.get("/api/v1/audit/export", params={"format": "jsonl", "organization_id": org_id})
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    created_record = next(r for r in records if r["type"] == "portico.organization.created")
    assert created_record["actor"]["user_agent"] == FORMULA  # JSONL keeps every value exactly as hashed
