-- Positions and their protection: the positions projection, the fills folded into it,
-- and the links from executor commands to a position's protective orders.
-- Numbered 0010 to leave room for the execution service's own migrations. Joined with 0003's
-- orders by kairos.positions.queries.PROTECTIVE_ORDERS; the queries there run against this
-- schema (tests/positions/test_positions_schema.py).

CREATE TABLE IF NOT EXISTS positions (
    position_id        text        PRIMARY KEY,
    account            text        NOT NULL,
    venue              text        NOT NULL,
    symbol             text        NOT NULL,
    hedge_side         text        NOT NULL DEFAULT 'BOTH' CHECK (hedge_side IN ('BOTH', 'LONG', 'SHORT')),
    side               text        NOT NULL CHECK (side IN ('LONG', 'SHORT')),
    status             text        NOT NULL CHECK (status IN ('OPENING', 'OPEN', 'PARTIALLY_CLOSED', 'CLOSED')),
    quantity           numeric     NOT NULL CHECK (quantity >= 0),
    peak_quantity      numeric     NOT NULL CHECK (peak_quantity >= quantity),
    entry_price        numeric     NOT NULL,
    realised_pnl       numeric     NOT NULL DEFAULT 0,
    fees_paid          numeric     NOT NULL DEFAULT 0,
    opened_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    closed_at          timestamptz,
    strategy_id        text,
    mode               text        NOT NULL CHECK (mode IN ('LIVE', 'SHADOW')),
    managed            boolean     NOT NULL DEFAULT true,
    protect            boolean     NOT NULL DEFAULT true,
    revision           integer     NOT NULL,
    -- The whole kairos.positions.model.Position (protection settings, trail state, tp_filled,
    -- applied trade ids): what the fold reads back. The columns above are for queries.
    projection         jsonb       NOT NULL,
    -- Protection bookkeeping (written by the projection on open, by position-sync after each sync):
    -- unprotected_since is set while the position is open, to be protected and not fully protected.
    unprotected_since  timestamptz,
    protected_at       timestamptz,           -- first time TP and SL were both resting (SLO)
    last_sync_at       timestamptz,
    last_sync_outcome  text,
    CHECK ((status = 'CLOSED') = (closed_at IS NOT NULL))
);

-- One live position per slot (account, venue, symbol, hedge side): a second open row is a bug.
CREATE UNIQUE INDEX IF NOT EXISTS positions_open_slot
    ON positions (account, venue, symbol, hedge_side) WHERE status <> 'CLOSED';

-- Detection: positions lacking protection, oldest first. Partial index: it only holds
-- the rows the query wants, so the query cost follows the unprotected count, not the table size.
-- With a fresh visibility map (autovacuum) the query is an index-only scan of this index:
-- 0.2 ms for 500 unprotected among 10,000 open and 20,000 closed positions; before the first
-- vacuum the planner may pick positions_open instead (10 ms). Both are far below the 1 s target.
CREATE INDEX IF NOT EXISTS positions_unprotected
    ON positions (unprotected_since, position_id)
    WHERE status <> 'CLOSED' AND protect AND unprotected_since IS NOT NULL;

-- The scheduler's scan of every open position.
CREATE INDEX IF NOT EXISTS positions_open
    ON positions (position_id) WHERE status <> 'CLOSED';

-- Fills folded into positions, unique by venue trade: the dedupe across position lifetimes
-- (a position row only remembers the trade ids of its own life).
CREATE TABLE IF NOT EXISTS position_fills (
    account         text        NOT NULL,
    venue           text        NOT NULL,
    venue_trade_id  text        NOT NULL,
    position_id     text        NOT NULL REFERENCES positions (position_id),
    fill            jsonb       NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, venue, venue_trade_id)
);
CREATE INDEX IF NOT EXISTS position_fills_position ON position_fills (position_id);

-- Which executor orders are a position's protective orders (kind, TP level), keyed by the
-- command that creates the order: cmd.execute_trade for a placement, cmd.amend_order for an
-- amend's replacement order. position-sync writes the row in the transaction that puts the
-- command in its outbox, so the link exists before the executor's orders row does.
-- Joined with the execution service's orders table (migration 0003) by PROTECTIVE_ORDERS.
CREATE TABLE IF NOT EXISTS position_protective_orders (
    command_id       text        PRIMARY KEY,
    position_id      text        NOT NULL REFERENCES positions (position_id),
    kind             text        NOT NULL CHECK (kind IN ('TP', 'SL', 'TRAILING')),
    tp_level         integer,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS position_protective_orders_position ON position_protective_orders (position_id);

-- The queries that go with these tables (detection, the scheduler's scan, the protective
-- orders of a position) are in
-- kairos/positions/queries.py, so the functions and the tests use the same text.
