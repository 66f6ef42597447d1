-- Risk guardian and portfolio accounting.
--
-- Risk: limits as append-only versions (each row is one version of one limit of one scope,
-- with who set it and why: the table is its own audit), kill switches and their log, one lock
-- row per scope the guardian serialises decisions on, the decisions themselves, and the
-- approvals the executor requires before it opens or increases a position on a LIVE or
-- SHADOW account. An approval also reserves its notional until its order ends.
--
-- Portfolio: a ledger of money movements per account and asset (realized PnL, fees,
-- funding, opening balances), the net holding per account, venue and symbol it is derived
-- from, the fills already applied (a redelivered fill changes nothing), and hourly snapshots.

CREATE TABLE execution_health (
    function    text        PRIMARY KEY,   -- the executor function whose recovery state this is
    state       text        NOT NULL CHECK (state IN ('RECOVERING', 'HEALTHY')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE risk_limits (
    scope_kind  text        NOT NULL CHECK (scope_kind IN ('global', 'account', 'strategy')),
    scope_id    text        NOT NULL,      -- '*' for global
    limit_name  text        NOT NULL CHECK (limit_name IN (
                    'max_order_quantity', 'max_order_notional', 'max_symbol_exposure',
                    'max_total_exposure', 'max_open_positions', 'max_daily_loss',
                    'max_orders_per_minute')),
    version     integer     NOT NULL CHECK (version >= 1),
    value       numeric     CHECK (value >= 0),   -- NULL: the limit was removed in this version
    set_by      text        NOT NULL,
    reason      text        NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope_id, limit_name, version)
);
CREATE TRIGGER risk_limits_append_only BEFORE UPDATE OR DELETE ON risk_limits
    FOR EACH ROW EXECUTE FUNCTION kairos_append_only();

-- The limits in force: the newest version of each, removed ones left out.
CREATE VIEW risk_limits_current AS
SELECT DISTINCT ON (scope_kind, scope_id, limit_name) scope_kind, scope_id, limit_name, version, value, set_by, reason, set_at
FROM risk_limits ORDER BY scope_kind, scope_id, limit_name, version DESC;

CREATE TABLE risk_kill_switches (
    scope_kind  text        NOT NULL CHECK (scope_kind IN ('global', 'account', 'strategy')),
    scope_id    text        NOT NULL,
    engaged     boolean     NOT NULL,
    reason      text        NOT NULL,
    actor       text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope_id)
);

CREATE TABLE risk_kill_switch_log (
    id          bigserial   PRIMARY KEY,
    scope_kind  text        NOT NULL,
    scope_id    text        NOT NULL,
    engaged     boolean     NOT NULL,
    reason      text        NOT NULL,
    actor       text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER risk_kill_switch_log_append_only BEFORE UPDATE OR DELETE ON risk_kill_switch_log
    FOR EACH ROW EXECUTE FUNCTION kairos_append_only();

-- One row per scope ('global', 'account:<id>', 'strategy:<id>'): the guardian locks the rows
-- of an intent's scopes (SELECT ... FOR UPDATE) before it reads exposure and reservations, so
-- two decisions on the same scope never see the same headroom.
CREATE TABLE risk_scope_locks (
    scope       text        PRIMARY KEY
);

CREATE TABLE risk_decisions (
    intent_id   text        PRIMARY KEY,
    command_id  text,                        -- approved: the cmd.execute_trade it became
    account     text        NOT NULL,
    strategy_id text        NOT NULL,
    symbol      text        NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    reason_code text,
    details     jsonb       NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_decisions_recent ON risk_decisions (decided_at);

-- The executor's proof that an order was approved (keyed by the command id it carries). The
-- notional reserves exposure until the order ends (kairos.risk.exposure).
CREATE TABLE risk_approvals (
    command_id  text        PRIMARY KEY,
    intent_id   text        NOT NULL UNIQUE,
    account     text        NOT NULL,
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    strategy_id text        NOT NULL,
    side        text        NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity    numeric     NOT NULL CHECK (quantity > 0),
    price       numeric     NOT NULL CHECK (price > 0),
    increases   boolean     NOT NULL,
    opens_position boolean  NOT NULL DEFAULT false,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_approvals_account_time ON risk_approvals (account, decided_at);
CREATE INDEX risk_approvals_strategy_time ON risk_approvals (strategy_id, decided_at);

-- Portfolio accounting ------------------------------------------------------------------

CREATE TABLE portfolio_fills (
    account        text        NOT NULL,
    venue          text        NOT NULL,
    venue_trade_id text        NOT NULL,
    symbol         text        NOT NULL,
    strategy_id    text,
    realized_pnl   numeric     NOT NULL,   -- gross, before the fee
    fee            numeric     NOT NULL,
    traded_at      timestamptz NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, venue, venue_trade_id)
);

CREATE TABLE portfolio_holdings (
    account      text        NOT NULL,
    venue        text        NOT NULL,
    symbol       text        NOT NULL,
    quantity     numeric     NOT NULL,     -- signed: long > 0, short < 0
    avg_price    numeric     NOT NULL,
    realized_pnl numeric     NOT NULL,     -- gross, cumulative
    fees         numeric     NOT NULL,
    funding      numeric     NOT NULL,
    strategy_id  text,
    as_of        timestamptz NOT NULL,
    PRIMARY KEY (account, venue, symbol)
);

CREATE TABLE portfolio_ledger (
    id          bigserial   PRIMARY KEY,
    account     text        NOT NULL,
    venue       text        NOT NULL,
    asset       text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('opening', 'realized', 'fee', 'funding', 'adjustment')),
    amount      numeric     NOT NULL,
    symbol      text,
    strategy_id text,
    source_id   text        NOT NULL,      -- venue trade id, funding id, or the operator's reference
    at          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account, venue, kind, source_id)
);
CREATE INDEX portfolio_ledger_account_time ON portfolio_ledger (account, at);
CREATE TRIGGER portfolio_ledger_append_only BEFORE UPDATE OR DELETE ON portfolio_ledger
    FOR EACH ROW EXECUTE FUNCTION kairos_append_only();

CREATE TABLE portfolio_snapshots (
    account         text        NOT NULL,
    slot            timestamptz NOT NULL,   -- the hour this snapshot is for
    balance         numeric     NOT NULL,
    realized_pnl    numeric     NOT NULL,
    unrealized_pnl  numeric     NOT NULL,
    equity          numeric     NOT NULL,
    daily_pnl       numeric     NOT NULL,
    details         jsonb       NOT NULL,
    as_of           timestamptz NOT NULL,
    PRIMARY KEY (account, slot)
);

-- risk.alert ids already raised: a limit at 80 % is announced once per scope, limit and hour.
CREATE TABLE risk_alert_log (
    alert_id    text        PRIMARY KEY,
    raised_at   timestamptz NOT NULL DEFAULT now()
);
