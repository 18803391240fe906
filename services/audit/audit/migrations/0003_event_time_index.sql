-- since/until filter on event time. Event times rise with the log, so a BRIN index (a few pages,
-- next to nothing per insert) lets a recent window skip the older part of the table.
CREATE INDEX audit_log_event_time ON audit_log USING brin (event_time);
