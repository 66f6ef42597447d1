-- Strategies: versioned rule documents, their STOPPED/RUNNING state and what the engine decided.

-- A strategy's identity and state. state changes only by an explicit start/stop (kairos strategy
-- start|stop) or by the engine applying the executor's recovery stop; each change is a row of
-- strategy_events and an event on event.strategy.
CREATE TABLE IF NOT EXISTS strategies (
    strategy_id      text        PRIMARY KEY CHECK (strategy_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    state            text        NOT NULL DEFAULT 'STOPPED' CHECK (state IN ('STOPPED', 'RUNNING')),
    running_version  integer,    -- the version started (NULL while STOPPED)
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    state_changed_by text        NOT NULL,
    state_reason     text        NOT NULL DEFAULT 'created',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'RUNNING') = (running_version IS NOT NULL))
);

-- Immutable versions: an edit is a new version; the trigger refuses UPDATE and DELETE.
CREATE TABLE IF NOT EXISTS strategy_versions (
    strategy_id text        NOT NULL REFERENCES strategies (strategy_id),
    version     integer     NOT NULL CHECK (version >= 1),
    document    jsonb       NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy_id, version)
);

CREATE OR REPLACE FUNCTION strategy_versions_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'strategy version %/% is immutable: create a new version instead', OLD.strategy_id, OLD.version;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS strategy_versions_immutable ON strategy_versions;
CREATE TRIGGER strategy_versions_immutable BEFORE UPDATE OR DELETE ON strategy_versions
    FOR EACH ROW EXECUTE FUNCTION strategy_versions_immutable();

CREATE TABLE IF NOT EXISTS strategy_events (
    id          bigserial   PRIMARY KEY,
    strategy_id text        NOT NULL REFERENCES strategies (strategy_id),
    version     integer     NOT NULL,
    event       text        NOT NULL CHECK (event IN ('started', 'stopped')),
    actor       text        NOT NULL,
    reason      text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);

-- Per strategy and symbol: the position the strategy's intents have asked for (NULL: flat),
-- the newest candle evaluated (older, redelivered or revised candles are not evaluated again)
-- and the warm-up state (bars available / bars needed).
CREATE TABLE IF NOT EXISTS strategy_symbols (
    strategy_id    text        NOT NULL REFERENCES strategies (strategy_id),
    symbol         text        NOT NULL,
    position       text        CHECK (position IN ('long', 'short')),
    quantity       numeric     NOT NULL DEFAULT 0,
    last_open_time timestamptz,
    version        integer,
    bars           integer     NOT NULL DEFAULT 0,
    needed         integer     NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy_id, symbol)
);

-- One decision per (strategy version, symbol, candle open time): the idempotency key of
-- signals and intents. A second attempt at the same key inserts nothing and emits nothing.
CREATE TABLE IF NOT EXISTS strategy_decisions (
    strategy_id      text        NOT NULL,
    version          integer     NOT NULL,
    symbol           text        NOT NULL,
    candle_open_time timestamptz NOT NULL,
    action           text        NOT NULL,
    signal_id        text        NOT NULL,
    intent_id        text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy_id, version, symbol, candle_open_time)
);
