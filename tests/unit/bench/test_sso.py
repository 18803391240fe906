"""The SSO bench's pure parts: a sign-in split into Portico's and Keycloak's legs, and its summary rows."""
from bench.sso import KEYCLOAK, PORTICO, Leg, ProtocolRun, Round, SsoRun, leg_samples, summary_figures
from bench.summary import figure_row


def saml_round(authorize: float, page: float, credentials: float, acs: float, token: float) -> Round:
    return Round([Leg("authorize", PORTICO, authorize), Leg("login page", KEYCLOAK, page),
                  Leg("credentials", KEYCLOAK, credentials), Leg("SAML ACS", PORTICO, acs),
                  Leg("token exchange", PORTICO, token)])


def test_a_round_splits_into_porticos_legs_and_keycloaks():
    sign_in = saml_round(0.004, 0.020, 0.030, 0.010, 0.006)
    assert round(sign_in.side(PORTICO), 6) == 0.020
    assert round(sign_in.side(KEYCLOAK), 6) == 0.050
    assert round(sign_in.total, 6) == 0.070


def test_leg_samples_gather_each_leg_across_rounds_in_the_order_they_ran():
    samples = leg_samples([saml_round(1, 2, 3, 4, 5), saml_round(6, 7, 8, 9, 10)])
    assert list(samples) == [("authorize", PORTICO), ("login page", KEYCLOAK), ("credentials", KEYCLOAK),
                             ("SAML ACS", PORTICO), ("token exchange", PORTICO)]
    assert samples[("SAML ACS", PORTICO)] == [4, 9]


def test_the_summary_puts_the_sign_in_beside_keycloak_alone_with_porticos_legs_named():
    run = ProtocolRun("SAML", [saml_round(0.004, 0.020, 0.030, 0.010, 0.006)], [Round([Leg("login page", KEYCLOAK, 0.025),
                                                                                      Leg("credentials", KEYCLOAK, 0.025)])])
    [figure] = summary_figures(SsoRun([run]))
    assert figure.name.startswith("SSO SAML sign-in") and "Portico's legs 20 / 20 ms" in figure.name
    assert [round(v, 6) for v in figure.values] == [70.0, 70.0]
    assert [round(v, 6) for v in figure.baseline] == [50.0, 50.0]
    assert figure_row(figure)["ratio"] == "1.40x / 1.40x"


def test_without_keycloak_both_protocols_are_marked_not_measured_with_the_reason():
    figures = summary_figures(SsoRun([], "Keycloak did not start: Keycloak needs Java 21 or newer\nmore detail"))
    assert [f.name for f in figures] == [
        f"SSO {protocol} sign-in through Portico: not measured (Keycloak did not start: Keycloak needs Java 21 or newer)"
        for protocol in ("SAML", "OIDC")
    ]
    assert figure_row(figures[0])["value"] == "n/a / n/a ms" and figure_row(figures[0])["ratio"] == "n/a / n/a"
