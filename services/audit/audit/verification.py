"""`verify`: stream the log through the chain verifier, then hold it against the signed checkpoints; and the
scheduled verification of the whole log, whose result /metrics shows."""
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import structlog

from audit import store
from audit.checkpoints import Checkpoint, checkpoint_problem, parse_heads
from audit.domain import ChainVerifier
from audit.metrics import record_verification
from audit.query import AuditQuery
from shared.db import PgConnection
from shared.periodic import Periodic

log = structlog.get_logger("audit.verification")
FIRST_SCHEDULED_AFTER_S = 60.0  # not at start-up itself: a fleet restarting at once would all read the log
SCHEDULED_ACQUIRE_TIMEOUT_S = 30.0  # a scheduled run may wait longer for a connection than a caller would


@dataclass(frozen=True)
class VerifyReport:
    organization_id: str | None
    checked: int
    last_sequence: int | None
    last_hash: str | None
    archived_through: int
    checkpoints_checked: int
    first_broken: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.first_broken is None

    def body(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


async def verify_log(
    conn: PgConnection, organization_id: str | None, trusted_public_key: str | None
) -> VerifyReport:
    """Recompute one organization's chain, or every chain plus the gapless global order.

    Runs inside one snapshot, so records appended meanwhile are simply not part of this check.
    """
    through = await store.archived_through(conn)
    if organization_id is None:
        verifier = ChainVerifier(await store.archive_anchors(conn), first_sequence=through + 1)
    else:
        verifier = ChainVerifier(await store.archive_anchors(conn, [organization_id]))
    broken: dict[str, Any] | None = None
    async for record in store.iter_records(conn, AuditQuery(organization_id=organization_id)):
        chain_break = verifier.check(record)
        if chain_break is not None:
            broken = asdict(chain_break)
            break
    checkpoints_checked = 0
    if broken is None and trusted_public_key is not None:
        checkpoints_checked, broken = await _verify_checkpoints(conn, organization_id, trusted_public_key, through)
    last = verifier.last
    return VerifyReport(
        organization_id=organization_id,
        checked=verifier.checked,
        last_sequence=last.sequence if last else None,
        last_hash=last.hash if last else None,
        archived_through=through,
        checkpoints_checked=checkpoints_checked,
        first_broken=broken,
    )


async def _verify_checkpoints(
    conn: PgConnection, organization_id: str | None, trusted_public_key: str, archived_through: int
) -> tuple[int, dict[str, Any] | None]:
    """Each checkpoint must be signed by our key, follow the one before, and match the heads it pinned."""
    checked = 0
    previous: Checkpoint | None = None
    async for checkpoint in store.iter_checkpoints(conn):
        checked += 1
        problem = checkpoint_problem(checkpoint, previous, trusted_public_key)
        if problem is not None:
            return checked, {"reason": problem, "checkpoint": checkpoint.number}
        previous = checkpoint
        heads = {
            org: head
            for org, head in parse_heads(checkpoint.heads).items()
            if (organization_id is None or org == organization_id) and head.sequence > archived_through
        }
        stored = await store.records_at(conn, [head.sequence for head in heads.values()])
        for org, head in sorted(heads.items(), key=lambda item: item[1].sequence):
            record = stored.get(head.sequence)
            if record is None or (record.organization_id, record.organization_sequence, record.hash) != (
                org, head.organization_sequence, head.hash
            ):
                return checked, {
                    "reason": "checkpoint_mismatch" if record else "checkpoint_head_missing",
                    "checkpoint": checkpoint.number,
                    "sequence": head.sequence,
                    "organization_id": org,
                    "organization_sequence": head.organization_sequence,
                    "event_id": record.event_id if record else None,
                    "expected": head.hash,
                    "found": record.hash if record else None,
                }
    return checked, None


async def verify_and_record(
    pool: asyncpg.Pool, organization_id: str | None, trusted_public_key: str | None, *, trigger: str,
    acquire_timeout_s: float,
) -> VerifyReport:
    """`verify_log` in a snapshot of its own, counted in /metrics under `trigger` (audit.metrics); raises
    TimeoutError when no connection frees up in `acquire_timeout_s`."""
    async with store.snapshot(pool, acquire_timeout_s) as conn:
        report = await verify_log(conn, organization_id, trusted_public_key)
    record_verification(trigger, report.ok, whole_log=organization_id is None)
    return report


class ScheduledVerification:
    """Verifies the whole log every `interval_s` on the read pool (a `shared.runtime.Component`; 0 = never); a
    break is logged as an error and shown by portico_audit_chain_broken, which the PorticoAuditChainBroken alert
    watches."""

    def __init__(
        self, reader: Callable[[], asyncpg.Pool], trusted_public_key: str | None, interval_s: float,
        first_after_s: float = FIRST_SCHEDULED_AFTER_S,
    ) -> None:
        self._reader = reader
        self._trusted_public_key = trusted_public_key
        self._enabled = interval_s > 0
        self._schedule = Periodic("audit-scheduled-verification", self.verify_once, interval_s,
                                  first_after_s=first_after_s)

    @property
    def running(self) -> bool:
        return self._schedule.running

    def start(self) -> None:
        if self._enabled:
            self._schedule.start()

    async def stop(self) -> None:
        await self._schedule.stop()

    async def verify_once(self) -> VerifyReport:
        report = await verify_and_record(self._reader(), None, self._trusted_public_key, trigger="scheduled",
                                         acquire_timeout_s=SCHEDULED_ACQUIRE_TIMEOUT_S)
        if report.ok:
            log.info("audit.verified", checked=report.checked, checkpoints_checked=report.checkpoints_checked)
        else:
            log.error("audit.chain_broken", checked=report.checked, first_broken=report.first_broken)
        return report
