"""Sign-in through a connection: the app's OAuth2-code-style flow and the portal's connection tests."""
