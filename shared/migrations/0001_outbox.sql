-- Transactional outbox: an event is written in the same transaction as the change it describes,
-- then the relay publishes it to Kafka and deletes the row, so nothing committed is ever lost.
CREATE TABLE outbox (
    position bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
