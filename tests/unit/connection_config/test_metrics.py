"""Sign-in outcomes are counted under the catalogue's codes only: any other string becomes `other`, so no label
ever holds what an IdP or a caller wrote."""
from connection_config.metrics import SIGN_INS, count_sign_in


def counted(outcome: str) -> float:
    return SIGN_INS.labels("saml", "sign_in", outcome)._value.get()


def test_outcomes_outside_the_catalogue_are_other():
    before = {outcome: counted(outcome) for outcome in ("succeeded", "signature_invalid", "other")}
    count_sign_in("saml", "sign_in", "succeeded")
    count_sign_in("saml", "sign_in", "signature_invalid")
    count_sign_in("saml", "sign_in", "alice@example.com")
    assert {outcome: counted(outcome) - before[outcome] for outcome in before} == \
        {"succeeded": 1, "signature_invalid": 1, "other": 1}
    assert all("alice" not in str(sample.labels) for sample in SIGN_INS.collect()[0].samples)
