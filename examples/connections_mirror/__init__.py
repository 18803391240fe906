"""Example: keep a local copy of every organization's SSO connections from Portico's events alone."""
