"""link-issuer, asked about a link portal-session cannot decide alone (one Redis does not know, and every
magic link before it is spent): its Postgres is the truth about links."""
from dataclasses import dataclass

from portico_events import Actor
from shared.errors import Unavailable
from shared.internal_http import InternalClient


@dataclass(frozen=True)
class Verdict:
    outcome: str  # ok|used|revoked|expired|invalid
    return_url: str | None
    success_url: str | None


class LinkIssuer(InternalClient):
    """link-issuer's answer on one link: may it open a session now (a live magic link is used by asking)."""

    async def redeem(self, link_id: str, token_digest: str, actor: Actor) -> Verdict:
        answer = await self.post_json(f"/internal/portal_links/{link_id}/redemptions", actor, {"token_sha256": token_digest})
        if answer.status != 200:
            raise Unavailable("service_unavailable", "Setup links cannot be checked for a moment; retry shortly.")
        return Verdict(str(answer.body["outcome"]), answer.body.get("return_url"), answer.body.get("success_url"))

