-- Runtime tables every function shares: the inbox (idempotent consumers) and the
-- outbox (outputs written in the same transaction as the state change).

CREATE TABLE IF NOT EXISTS inbox (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial   PRIMARY KEY,
    event_id      text        NOT NULL,
    event_type    text        NOT NULL,
    producer      text        NOT NULL,
    topic         text        NOT NULL,
    record_key    bytea,
    headers       jsonb       NOT NULL,
    value         bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);

-- The relay polls for unpublished rows (never "ids above the last seen"): a low id that
-- commits late is still found.
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
