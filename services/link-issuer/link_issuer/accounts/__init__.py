"""Accounts: API keys for SaaS backends and operator accounts for the console (roles, passwords, lockout rules, their SQL)."""
