"""The scheduled verification reads the whole live log, as GET /verify does, and shows its result in /metrics:
portico_audit_verifications_total{trigger="scheduled"} and portico_audit_last_verification_timestamp_seconds."""
import time

import asyncpg

from audit.metrics import CHAIN_BROKEN, LAST_VERIFICATION, VERIFICATIONS
from audit.verification import ScheduledVerification


async def test_a_scheduled_verification_of_the_whole_live_log_passes_and_is_shown(audit_db: asyncpg.Pool):
    passed_before = VERIFICATIONS.labels("scheduled", "ok")._value.get()
    started = time.time()
    report = await ScheduledVerification(lambda: audit_db, None, interval_s=3600).verify_once()
    assert report.ok and report.checked > 0 and report.organization_id is None
    assert VERIFICATIONS.labels("scheduled", "ok")._value.get() == passed_before + 1
    assert CHAIN_BROKEN._value.get() == 0
    assert LAST_VERIFICATION._value.get() >= started


async def test_an_interval_of_zero_turns_the_schedule_off(audit_db: asyncpg.Pool):
    scheduled = ScheduledVerification(lambda: audit_db, None, interval_s=0)
    scheduled.start()
    assert not scheduled.running
    await scheduled.stop()
