"""link-issuer: the management API for organizations and portal links; publishes link events."""
