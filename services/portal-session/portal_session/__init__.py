"""portal-session: serves the portal, redeems links and keeps link and session state in Redis."""
