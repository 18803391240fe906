"""Console sign-in timing: a wrong password, an unknown email and the right password, through the proxy.

    python -m bench.console_sign_in [--rounds 10]

Makes one auditor account on link-issuer's database, then signs in `rounds` times each way from
127.0.0.1 and prints p50 and max. The per-address failure count for 127.0.0.1 is cleared after each
round so the run never locks the address (20 failures per account are never reached either).
"""
import argparse
import asyncio
import statistics
import time
import uuid

import httpx

from link_issuer.accounts import admin
from link_issuer.console.store import address_failures_key
from shared.redis_client import create_redis
from shared.settings import Settings


async def measure(rounds: int) -> dict[str, list[float]]:
    settings = Settings()
    operator, password = await admin.create_operator(settings, f"bench-{uuid.uuid4().hex[:8]}@example.com", "auditor")
    redis = create_redis(settings.redis_url)
    timings: dict[str, list[float]] = {"wrong password": [], "unknown email": [], "right password": []}
    try:
        async with httpx.AsyncClient(base_url=settings.public_url, timeout=60) as client:
            for n in range(min(rounds, 19)):
                for name, email, typed in (
                    ("wrong password", operator.email, "not the password"),
                    ("unknown email", f"nobody-{n}@example.com", "not the password"),
                    ("right password", operator.email, password),
                ):
                    started = time.perf_counter()
                    await client.post("/console/api/session", json={"email": email, "password": typed})
                    timings[name].append(time.perf_counter() - started)
                await redis.delete(address_failures_key("127.0.0.1"))
    finally:
        await redis.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_sign_in", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="sign-ins of each kind (at most 19)")
    timings = asyncio.run(measure(parser.parse_args().rounds))
    for name, values in timings.items():
        print(f"{name:15} p50 {statistics.median(values) * 1000:6.0f} ms   max {max(values) * 1000:6.0f} ms   n={len(values)}")


if __name__ == "__main__":
    main()
