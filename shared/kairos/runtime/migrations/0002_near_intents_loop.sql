-- State of the first loop: the paper executor's executions (unique per command) and the
-- trade-results consumer's queryable table.

CREATE TABLE IF NOT EXISTS paper_executions (
    command_id   text        PRIMARY KEY,
    event_id     text        NOT NULL,
    result_event jsonb       NOT NULL,
    executed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS trade_results (
    command_id        text        PRIMARY KEY,
    event_id          text        NOT NULL,
    correlation_id    text        NOT NULL,
    account           text        NOT NULL,
    venue             text        NOT NULL,
    symbol            text        NOT NULL,
    side              text        NOT NULL,
    status            text        NOT NULL,
    requested_quantity numeric    NOT NULL,
    filled_quantity   numeric     NOT NULL,
    average_price     numeric,
    fee               numeric     NOT NULL,
    reason            text,
    mode              text        NOT NULL,
    executed_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS trade_results_recorded ON trade_results (recorded_at);
