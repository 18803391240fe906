"""What issuing a link costs, piece by piece: `python -m bench.issuance_parts [--calls 500]`, with the stack's
secrets in the environment (`set -a; . .run/secrets.env; set +a`: it signs links like link-issuer).

The code link-issuer runs for a magic link (the API-key check, `LinkService.issue_link` with its insert, the
`issued` event built and parsed again as the relay does), called in this one process against the running
stack's Postgres (`make up`), one call at a time after a warm-up; CPU from `time.process_time`, wall from
`time.perf_counter`. Not in `make bench`: it explains the capacity figure rather than being one.
"""
import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bench.stats import print_table
from link_issuer.accounts.admin import create_api_key
from link_issuer.accounts.api_keys import ApiKeyVerifier
from link_issuer.links import LinkService
from portico_events import Actor, CloudEvent, PortalLinkIssued
from shared.db import create_pool
from shared.ids import SystemClock
from shared.settings import Settings

WARM_UP = 50


async def timed(name: str, call: Callable[[], Awaitable[object]], calls: int) -> dict[str, object]:
    for _ in range(WARM_UP):
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await call()
    return {"piece": name, "calls": calls, "cpu µs": (time.process_time() - cpu) / calls * 1e6,
            "wall µs": (time.perf_counter() - wall) / calls * 1e6}


async def run(settings: Settings, calls: int) -> list[dict[str, object]]:
    pool = await create_pool(settings.link_issuer_database_url.get_secret_value(), min_size=1, max_size=2)
    try:
        links = LinkService(lambda: pool, settings, SystemClock())
        verifier = ApiKeyVerifier(lambda: pool, None)
        key_id, key = await create_api_key(settings, "bench-issuance-parts")
        actor = Actor(kind="api_key", id=key_id, client_address="127.0.0.1", user_agent="bench")
        organization = await links.create_organization("Issuance Parts", None, [], actor)

        def event() -> CloudEvent:
            now = datetime.now(UTC)
            return CloudEvent.wrap(PortalLinkIssued(
                organization_id=organization.id, link_id="lnk_bench", kind="magic", token_sha256="0" * 64,
                expire_time=now, return_url=None, success_url=None, actor=actor), source="/portico/bench", time=now)

        payload = event().to_bytes()

        async def built() -> bytes:
            return event().to_bytes()

        async def parsed() -> CloudEvent:
            return CloudEvent.from_bytes(payload)

        return [
            await timed("API-key check (one SELECT)", lambda: verifier.key_id_for(key), calls),
            await timed("issue_link: token, event, insert with its outbox row", lambda: links.issue_link(
                organization.id, "magic", actor), calls),
            await timed("SELECT 1 through the pool", lambda: pool.execute("SELECT 1"), calls),
            await timed("the issued CloudEvent built and serialized", built, calls),
            await timed("the same parsed again (the relay)", parsed, calls),
        ]
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    rows = asyncio.run(run(Settings(), min(max(args.calls, 10), 5000)))
    print_table("Issuing a link, piece by piece (one process, one call at a time)", rows)


if __name__ == "__main__":
    main()
