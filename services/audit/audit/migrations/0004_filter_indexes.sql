-- Filters compliance uses without an organization: "everything this operator or key did" and
-- "every event of this type". Without these a rare actor or type scans the whole log.
CREATE INDEX audit_log_actor ON audit_log (actor_id, sequence) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_event_type ON audit_log (event_type, sequence);
