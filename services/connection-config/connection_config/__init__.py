"""connection-config: owns SSO connections in Postgres and publishes every change."""
