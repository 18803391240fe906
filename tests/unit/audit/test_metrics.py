"""portico_audit_chain_broken: set by any verification that finds a break, cleared only by a pass of the whole log
(one organization's chain holding says nothing of the others); every verification counted by trigger and result."""
from audit.metrics import CHAIN_BROKEN, LAST_VERIFICATION, VERIFICATIONS, record_verification


def counted(trigger: str, result: str) -> float:
    return VERIFICATIONS.labels(trigger, result)._value.get()


def test_a_break_stays_shown_until_the_whole_log_verifies():
    before = {(t, r): counted(t, r) for t in ("api", "scheduled") for r in ("ok", "broken")}
    record_verification("api", ok=False, whole_log=False)
    assert CHAIN_BROKEN._value.get() == 1
    record_verification("api", ok=True, whole_log=False)
    assert CHAIN_BROKEN._value.get() == 1
    stamped = LAST_VERIFICATION._value.get()
    record_verification("scheduled", ok=True, whole_log=True)
    assert CHAIN_BROKEN._value.get() == 0
    assert LAST_VERIFICATION._value.get() > stamped
    record_verification("scheduled", ok=False, whole_log=True)
    assert CHAIN_BROKEN._value.get() == 1
    assert counted("api", "broken") == before[("api", "broken")] + 1
    assert counted("api", "ok") == before[("api", "ok")] + 1
    assert counted("scheduled", "ok") == before[("scheduled", "ok")] + 1
    assert counted("scheduled", "broken") == before[("scheduled", "broken")] + 1
