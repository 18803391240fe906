"""Console sign-in under concurrent load, through the proxy: the lockout limit holds for parallel guesses,
argon2 work stays within the console's memory limit, and what someone typed as their email reaches the
audit log only when it is an email address.
"""
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from redis.asyncio import Redis

from link_issuer.console.store import address_failures_key
from shared.settings import Settings
from tests.integration.console import create_account, sign_in
from tests.integration.polling import eventually
from tests.integration.stack import ROOT

BURST = 60
LOCKOUT_S = 15 * 60


def client(settings: Settings, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=settings.public_url, timeout=60, headers=headers,
                             limits=httpx.Limits(max_connections=BURST + 10))


async def burst_then(
    browser: httpx.AsyncClient, guesses: list[tuple[str, str]], then: tuple[str, str] | None = None
) -> tuple[list[httpx.Response], httpx.Response | None]:
    """Send every guess at once; once the first answer is back (the burst has reached the server), send `then`.
    Returns the burst's answers in the order they arrived, and `then`'s answer."""
    arrived: list[httpx.Response] = []
    first = asyncio.Event()

    async def guess(email: str, password: str) -> None:
        arrived.append(await sign_in(browser, email, password))
        first.set()

    tasks = [asyncio.create_task(guess(email, password)) for email, password in guesses]
    await asyncio.wait_for(first.wait(), 60)
    late = await sign_in(browser, *then) if then else None
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return arrived, late


def code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


def refused_before_last_check(arrived: list[httpx.Response]) -> int:
    """Lockout answers that came back before the last password verdict (a 401): refusals that did not wait
    for a check. A refusal that follows its own argon2 verification arrives after the verdicts before it."""
    last_verdict = max(i for i, answer in enumerate(arrived) if answer.status_code == 401)
    return sum(1 for answer in arrived[:last_verdict] if code(answer) == "locked_out")


async def sign_in_failures(api: httpx.AsyncClient, since: str, user_agent: str) -> list[dict]:
    """The sign_in_failed events recorded since `since` for requests sent with this User-Agent."""
    found: list[dict] = []
    cursor = None
    for _ in range(20):
        params = {"type": "portico.operator.sign_in_failed", "since": since, "limit": 1000,
                  **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/audit/events", params=params)).json()
        found += [e for e in page["events"] if (e.get("actor") or {}).get("user_agent") == user_agent]
        if not (cursor := page.get("next_cursor")):
            break
    return found


async def test_parallel_wrong_passwords_get_no_more_checks_than_the_lockout_allows_and_lock_the_right_one_out(
    settings: Settings, api: httpx.AsyncClient
):
    limit = settings.console_lockout_failures
    _, email, password = await create_account(settings, "support")
    user_agent = f"burst-{uuid.uuid4().hex}"
    since = datetime.now(UTC).isoformat()
    async with client(settings, **{"User-Agent": user_agent}) as browser:
        arrived, right = await burst_then(browser, [(email, f"wrong guess {n}") for n in range(BURST)], (email, password))

    assert right is not None
    assert right.status_code == 429 and code(right) == "locked_out", right.text
    assert 0 < int(right.headers["retry-after"]) <= LOCKOUT_S
    assert {a.status_code for a in arrived} <= {401, 429}
    assert sum(a.status_code == 401 for a in arrived) == limit - 1  # the limit-th wrong password locks
    assert refused_before_last_check(arrived) >= BURST - limit

    events = await eventually(lambda: sign_in_failures(api, since, user_agent),
                              lambda found: len(found) >= BURST + 1, timeout_s=30)
    reasons = [e["data"]["reason"] for e in events]
    assert len(events) == BURST + 1
    assert reasons.count("invalid_credentials") == limit  # the passwords actually checked
    assert reasons.count("locked_out") == BURST + 1 - limit


async def test_parallel_guesses_from_one_address_stop_at_the_address_limit(
    settings: Settings, redis_client: Redis
):
    _, email, password = await create_account(settings, "auditor")
    left = 10
    # As if this address had already failed all but `left` times within the window.
    await redis_client.set(address_failures_key("127.0.0.1"), settings.console_lockout_address_failures - left,
                           ex=LOCKOUT_S)
    guesses = [(f"guess-{uuid.uuid4().hex[:8]}@example.com", "a guess") for _ in range(40)]
    async with client(settings) as browser:
        arrived, right = await burst_then(browser, guesses, (email, password))
    assert right is not None and right.status_code == 429 and code(right) == "locked_out"
    assert sum(a.status_code == 401 for a in arrived) == left - 1
    assert refused_before_last_check(arrived) >= len(guesses) - left


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def chart_memory_limit_kib() -> int:
    values = yaml.safe_load((ROOT / "deploy/helm/portico/values.yaml").read_text())
    limit = values["console"]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * 1024


async def test_fifty_concurrent_sign_ins_stay_within_the_charts_memory_limit_and_answer_json(settings: Settings):
    pid_file = ROOT / ".run/pids/console.pid"  # the process that runs argon2: the console, not link-issuer
    if not pid_file.exists():
        pytest.skip("the console does not run as a local process here; its RSS cannot be sampled")
    pid = int(pid_file.read_text())
    budget = chart_memory_limit_kib()
    peak = rss_kib(pid)
    sampling = True

    async def sample() -> None:
        nonlocal peak
        deadline = time.monotonic() + 120
        while sampling and time.monotonic() < deadline:
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    # Distinct accounts, so no lockout cuts the work short: every one of them asks for an argon2 verification.
    guesses = [(f"load-{uuid.uuid4().hex[:8]}@example.com", "not the password") for _ in range(50)]
    try:
        async with client(settings) as browser:
            answers = await asyncio.wait_for(
                asyncio.gather(*(sign_in(browser, email, password) for email, password in guesses)), 120)
    finally:
        sampling = False
        await sampler
    print(f"console peak RSS under 50 concurrent sign-ins: {peak / 1024:.0f} MiB (chart limit {budget // 1024} MiB)")

    assert peak < budget, f"peak RSS {peak / 1024:.0f} MiB over the chart's {budget // 1024} MiB"
    assert {a.status_code for a in answers} <= {401, 429, 503}, [a.status_code for a in answers]
    assert all(a.headers["content-type"] == "application/json" and json.loads(a.text)["error"]["message"]
               for a in answers)
    for busy in (a for a in answers if a.status_code == 503):
        assert code(busy) == "busy" and int(busy.headers["retry-after"]) >= 1
    assert sum(a.status_code == 401 for a in answers) >= 2  # the ones admitted were checked


async def test_a_password_typed_as_the_email_never_reaches_the_audit_log(settings: Settings, api: httpx.AsyncClient):
    user_agent = f"typed-{uuid.uuid4().hex}"
    since = datetime.now(UTC).isoformat()
    secret_like = f"Tr0ub4dor&3-{uuid.uuid4().hex[:12]}"
    address = f"Someone.{uuid.uuid4().hex[:8]}@Example.com"
    async with client(settings, **{"User-Agent": user_agent}) as browser:
        assert (await sign_in(browser, secret_like, "whatever")).status_code == 401
        assert (await sign_in(browser, f"  {address} ", "whatever")).status_code == 401

    events = await eventually(lambda: sign_in_failures(api, since, user_agent), lambda found: len(found) >= 2)
    recorded = sorted(e["data"]["email"] for e in events)
    assert len(recorded) == 2
    assert recorded[0].startswith("hmac-sha256:") and len(recorded[0]) == len("hmac-sha256:") + 16
    assert recorded[1] == address.lower()
    assert "Tr0ub4dor" not in json.dumps(events)
    export = await api.get("/api/v1/audit/export", params={"format": "jsonl", "since": since})
    assert export.status_code == 200 and secret_like not in export.text
