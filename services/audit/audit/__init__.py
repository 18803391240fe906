"""audit: consumes every Portico event into an append-only log for compliance."""
