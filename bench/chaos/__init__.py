"""`make chaos`: scripted faults against the real stack while a driver runs real operations, then proof
that the audit log lost and doubled nothing and no magic link opened twice (docs/reliability.md)."""
