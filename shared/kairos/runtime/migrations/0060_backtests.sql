-- Backtests: one row per run with everything that determines its result, and its result.

-- A run's parameters are fixed when it starts: the request (strategy id and version, symbols,
-- timeframe, range, balance, fill model), the strategy document it ran (snapshot) and the
-- data version (sha256 of the exact candles used). The trigger refuses any change to them;
-- only status, the result hash and the finish time move. A re-run of the same id is checked
-- against these columns and refused on any difference.
CREATE TABLE IF NOT EXISTS backtest_runs (
    run_id        text        PRIMARY KEY CHECK (run_id ~ '^[a-z0-9][a-z0-9-]{2,62}$'),
    strategy_id   text        NOT NULL,
    version       integer     NOT NULL,
    request       jsonb       NOT NULL,
    strategy      jsonb       NOT NULL,
    data_version  text        NOT NULL,
    candles       bigint      NOT NULL CHECK (candles > 0),
    status        text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    error         text,
    result_hash   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

CREATE OR REPLACE FUNCTION backtest_runs_immutable() RETURNS trigger AS $$
BEGIN
    IF NEW.run_id IS DISTINCT FROM OLD.run_id OR NEW.strategy_id IS DISTINCT FROM OLD.strategy_id
       OR NEW.version IS DISTINCT FROM OLD.version OR NEW.request IS DISTINCT FROM OLD.request
       OR NEW.strategy IS DISTINCT FROM OLD.strategy OR NEW.data_version IS DISTINCT FROM OLD.data_version
       OR NEW.candles IS DISTINCT FROM OLD.candles THEN
        RAISE EXCEPTION 'backtest run % parameters are immutable: start a new run instead', OLD.run_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS backtest_runs_immutable ON backtest_runs;
CREATE TRIGGER backtest_runs_immutable BEFORE UPDATE ON backtest_runs
    FOR EACH ROW EXECUTE FUNCTION backtest_runs_immutable();

-- The result of a finished run: metrics, every trade, every signal and the equity curve
-- (downsampled to at most a few thousand points for charts; the metrics use every bar).
CREATE TABLE IF NOT EXISTS backtest_results (
    run_id      text        PRIMARY KEY REFERENCES backtest_runs (run_id),
    metrics     jsonb       NOT NULL,
    trades      jsonb       NOT NULL,
    signals     jsonb       NOT NULL,
    equity      jsonb       NOT NULL,
    result_hash text        NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now()
);
