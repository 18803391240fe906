"""Portico's shared kernel: settings, logging, events, broker, outbox, Postgres, Redis, health, errors, ids."""
