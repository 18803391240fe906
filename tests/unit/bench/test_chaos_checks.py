"""The verdicts `make chaos` prints: how answers count, and what the audit log must hold."""
from bench.chaos.checks import (
    UNKNOWN,
    Expectation,
    classify,
    double_redemptions,
    judge_audit,
    may_have_committed,
    operation_outcome,
    record_key,
    settled,
)

CREATED = "portico.organization.created"
ISSUED = "portico.portal_link.issued"
REDEEMED = "portico.portal_link.redeemed"


def test_answers_are_ok_clean_refusals_or_unclean():
    assert classify(201, json_error=False, ok_statuses=(201,)) == "ok"
    assert classify(410, json_error=True, ok_statuses=(410,)) == "ok"  # a reopened magic link must be refused
    assert classify(404, json_error=True, ok_statuses=(200,)) == "clean"
    assert classify(503, json_error=True, ok_statuses=(200,)) == "clean"
    assert classify(503, json_error=False, ok_statuses=(200,)) == "unclean"  # an HTML error page
    assert classify(500, json_error=True, ok_statuses=(200,)) == "unclean"
    assert classify(502, json_error=True, ok_statuses=(200,)) == "unclean"
    assert classify(None, json_error=False, ok_statuses=(200,)) == "unclean"  # dropped or timed out


def test_only_a_lost_answer_or_a_5xx_may_hide_a_commit():
    assert may_have_committed(None)
    assert may_have_committed(503)
    assert not may_have_committed(409)


def test_an_operation_counts_by_its_last_attempt_unless_an_earlier_one_was_unclean():
    assert operation_outcome(["clean", "ok"]) == "ok"
    assert operation_outcome(["unclean", "ok"]) == "ok"
    assert operation_outcome(["clean", "clean"]) == "clean"
    assert operation_outcome(["unclean", "clean"]) == "unclean"


def test_records_are_keyed_by_what_they_are_about():
    assert record_key(CREATED, "org_1", "org_1", None) == (CREATED, "org_1")
    assert record_key("portico.connection.viewed", "org_1", None, None) == ("portico.connection.viewed", "org_1")
    assert record_key(ISSUED, "org_1", "lnk_1", "lnk_1") == (ISSUED, "lnk_1")
    assert record_key("portico.portal_session.started", "org_1", "ses_1", "lnk_1") == (
        "portico.portal_session.started", "lnk_1")
    assert record_key("portico.connection.updated", "org_1", "conn_1", None) == ("portico.connection.updated", "conn_1")


def test_every_committed_change_recorded_once_passes():
    expectations = [Expectation(CREATED, "org_1", 1, 1), Expectation(ISSUED, "lnk_1", 1, 1)]
    verdict = judge_audit(expectations, {(CREATED, "org_1"): 1, (ISSUED, "lnk_1"): 1}, ["e1", "e2"])
    assert verdict.ok


def test_a_missing_record_is_lost_and_an_extra_one_duplicated():
    expectations = [Expectation(CREATED, "org_1", 1, 1), Expectation(ISSUED, "lnk_1", 1, 1)]
    verdict = judge_audit(expectations, {(ISSUED, "lnk_1"): 2})
    assert verdict.lost == [(CREATED, "org_1")]
    assert verdict.duplicated == [(ISSUED, "lnk_1")]


def test_a_record_no_operation_explains_counts_as_duplicated():
    verdict = judge_audit([Expectation(CREATED, "org_1", 1, 1)], {(CREATED, "org_1"): 1, (REDEEMED, "lnk_9"): 1})
    assert verdict.duplicated == [(REDEEMED, "lnk_9")]


def test_an_answer_lost_after_commit_allows_zero_or_one_record():
    uncertain = [Expectation(REDEEMED, "lnk_1", 0, 1)]
    assert judge_audit(uncertain, {}).ok
    assert judge_audit(uncertain, {(REDEEMED, "lnk_1"): 1}).ok
    assert not judge_audit(uncertain, {(REDEEMED, "lnk_1"): 2}).ok


def test_expectations_on_one_key_add_up():
    views = [Expectation("portico.connection.viewed", "org_1", 1, 1), Expectation("portico.connection.viewed", "org_1", 1, 2)]
    assert judge_audit(views, {("portico.connection.viewed", "org_1"): 3}).ok
    assert judge_audit(views, {("portico.connection.viewed", "org_1"): 1}).lost


def test_a_repeated_event_id_is_reported():
    verdict = judge_audit([Expectation(CREATED, "org_1", 1, 2)], {(CREATED, "org_1"): 2}, ["e1", "e1"])
    assert verdict.repeated_event_ids == 1
    assert not verdict.ok


def test_the_log_is_settled_once_every_certain_change_is_in():
    expectations = [Expectation(CREATED, "org_1", 1, 1), Expectation(REDEEMED, "lnk_1", 0, 1)]
    assert not settled(expectations, {})
    assert settled(expectations, {(CREATED, "org_1"): 1})


def test_a_magic_link_that_opened_two_sessions_is_reported():
    assert double_redemptions({"lnk_1": 1, "lnk_2": 2, "lnk_3": 0}) == ["lnk_2"]


def test_an_unanswered_creation_accounts_for_one_record_whose_id_the_driver_never_learnt():
    expectations = [
        Expectation("portico.portal_link.issued", "lnk_known", 1, 1),
        Expectation("portico.portal_link.issued", UNKNOWN, 0, 1),  # a generate answered 503
    ]
    one_unexplained = {("portico.portal_link.issued", "lnk_known"): 1, ("portico.portal_link.issued", "lnk_x"): 1}
    assert judge_audit(expectations, one_unexplained).ok
    two_unexplained = {**one_unexplained, ("portico.portal_link.issued", "lnk_y"): 1}
    assert judge_audit(expectations, two_unexplained).duplicated == [("portico.portal_link.issued", "lnk_y")]
    other_type = {**one_unexplained, ("portico.portal_link.revoked", "lnk_z"): 1}
    assert judge_audit(expectations, other_type).duplicated == [("portico.portal_link.revoked", "lnk_z")]
