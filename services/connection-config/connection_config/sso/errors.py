"""Why a sign-in failed: one stable code, one plain sentence, who must fix it, and the expected and actual values."""
from typing import Literal

from shared.errors import DomainError

FixIn = Literal["identity_provider", "portico"]
Value = str | list[str] | None

# code -> (the sentence the admin and the app see, who must act). The codes are the contract (BRIEF §5);
# a sentence may be sharpened by the raiser with the values it found.
CATALOGUE: dict[str, tuple[str, FixIn]] = {
    # SAML
    "signature_invalid": (
        "The response's signature does not match its content: it was changed after the identity provider signed it, "
        "or it was signed with another key.", "identity_provider"),
    "unsigned_assertion": (
        "The identity provider did not sign the assertion or the response; turn on assertion signing.",
        "identity_provider"),
    "certificate_mismatch": (
        "The response is signed with a certificate this connection does not trust; upload the identity provider's "
        "current signing certificate (or its metadata) to the connection.", "portico"),
    "certificate_expired": (
        "The certificate this connection trusts for the response is expired or not yet valid; have the identity "
        "provider sign with a current certificate and upload it to the connection.", "identity_provider"),
    "issuer_mismatch": (
        "The response comes from another identity provider entity ID than the one configured; copy the identity "
        "provider's entity ID into the connection.", "portico"),
    "audience_mismatch": (
        "The assertion is meant for another service provider; set the audience (SP entity ID) in the identity "
        "provider to the connection's entity ID.", "identity_provider"),
    "destination_mismatch": (
        "The response was sent for another address; set the ACS URL in the identity provider to the connection's "
        "ACS URL.", "identity_provider"),
    "in_response_to_mismatch": (
        "The response does not answer the sign-in request Portico sent; start the sign-in again from the "
        "application rather than from the identity provider's dashboard.", "identity_provider"),
    "assertion_expired": (
        "The assertion has expired: it arrived too late, or the identity provider's clock is behind.",
        "identity_provider"),
    "assertion_not_yet_valid": (
        "The assertion is not valid yet: the identity provider's clock is ahead of Portico's.", "identity_provider"),
    "assertion_replayed": (
        "This assertion was already used to sign in once; start a new sign-in.", "identity_provider"),
    "weak_algorithm": (
        "The identity provider signs with an algorithm Portico refuses (SHA-1 or unknown); switch its signature "
        "and digest algorithms to SHA-256.", "identity_provider"),
    "idp_error": (
        "The identity provider answered with an error instead of signing the user in.", "identity_provider"),
    "malformed_response": (
        "The identity provider's response is not a SAML response Portico can read.", "identity_provider"),
    "email_missing": (
        "The identity provider sent no usable email address for the user; release the email attribute or claim.",
        "identity_provider"),
    # OIDC
    "token_exchange_failed": (
        "The identity provider refused to exchange the authorization code; check the connection's client ID and "
        "client secret.", "portico"),
    "id_token_invalid": (
        "The identity provider's ID token failed verification (signature, issuer, audience or time).",
        "identity_provider"),
    "nonce_mismatch": (
        "The ID token was not issued for this sign-in (its nonce differs); start the sign-in again.",
        "identity_provider"),
    # Both
    "connection_not_enabled": ("This connection is not enabled for sign-in yet.", "portico"),
    "sign_in_expired": (
        "The sign-in took longer than 10 minutes or was already finished; start it again from the application.",
        "identity_provider"),
}


class SignInError(DomainError):
    """A sign-in or connection test that failed: nothing was signed in. `expected` and `actual` are for display
    (fingerprints, entity IDs, times with the measured skew); never an assertion, a token or a secret."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        fix_in: FixIn | None = None,
        expected: Value = None,
        actual: Value = None,
    ) -> None:
        default_message, default_fix_in = CATALOGUE[code]
        self.fix_in: FixIn = fix_in or default_fix_in
        self.expected = expected
        self.actual = actual
        super().__init__(code, message or default_message, fix_in=self.fix_in)
        if expected is not None:
            self.extra["expected"] = expected
        if actual is not None:
            self.extra["actual"] = actual

    def as_dict(self) -> dict[str, Value]:
        """The `error` member of a connection test (BRIEF §5)."""
        error: dict[str, Value] = {"code": self.code, "message": self.message, "fix_in": self.fix_in}
        if self.expected is not None:
            error["expected"] = self.expected
        if self.actual is not None:
            error["actual"] = self.actual
        return error
