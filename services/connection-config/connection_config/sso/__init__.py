"""Sign-in through a connection: Portico as SAML service provider and OIDC relying party (pure verification)."""
