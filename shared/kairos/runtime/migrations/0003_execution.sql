-- Execution service: orders with an explicit lifecycle, append-only order
-- events, fills unique by venue trade id, reconciliation audit, clock offsets, the
-- strategy stop flag, encrypted exchange keys, and the SHADOW venue's own book.
--
-- The lifecycle table below is the database copy of kairos.execution.states.TRANSITIONS
-- (a test keeps them equal). order_events references it, and a trigger refuses any
-- change of orders.state that the table does not allow: an illegal transition is refused
-- by Postgres even if the code were wrong.

CREATE TABLE order_transitions (
    from_state text NOT NULL,
    trigger    text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, trigger),
    UNIQUE (from_state, trigger, to_state)
);
INSERT INTO order_transitions (from_state, trigger, to_state) VALUES
  ('CANCELING', 'ACCEPT', 'OPEN'),
  ('CANCELING', 'CANCEL', 'CANCELED'),
  ('CANCELING', 'EXPIRE', 'EXPIRED'),
  ('CANCELING', 'FILL', 'FILLED'),
  ('CANCELING', 'PARTIAL_FILL', 'CANCELING'),
  ('NEW', 'REJECT', 'REJECTED'),
  ('NEW', 'SUBMIT', 'SUBMITTED'),
  ('OPEN', 'CANCEL', 'CANCELED'),
  ('OPEN', 'EXPIRE', 'EXPIRED'),
  ('OPEN', 'FILL', 'FILLED'),
  ('OPEN', 'PARTIAL_FILL', 'PARTIALLY_FILLED'),
  ('OPEN', 'REQUEST_CANCEL', 'CANCELING'),
  ('PARTIALLY_FILLED', 'CANCEL', 'CANCELED'),
  ('PARTIALLY_FILLED', 'EXPIRE', 'EXPIRED'),
  ('PARTIALLY_FILLED', 'FILL', 'FILLED'),
  ('PARTIALLY_FILLED', 'PARTIAL_FILL', 'PARTIALLY_FILLED'),
  ('PARTIALLY_FILLED', 'REQUEST_CANCEL', 'CANCELING'),
  ('SUBMITTED', 'ACCEPT', 'OPEN'),
  ('SUBMITTED', 'CANCEL', 'CANCELED'),
  ('SUBMITTED', 'EXPIRE', 'EXPIRED'),
  ('SUBMITTED', 'FILL', 'FILLED'),
  ('SUBMITTED', 'LOSE', 'REJECTED'),
  ('SUBMITTED', 'PARTIAL_FILL', 'PARTIALLY_FILLED'),
  ('SUBMITTED', 'REJECT', 'REJECTED'),
  ('SUBMITTED', 'TIMEOUT', 'UNKNOWN'),
  ('UNKNOWN', 'ACCEPT', 'OPEN'),
  ('UNKNOWN', 'CANCEL', 'CANCELED'),
  ('UNKNOWN', 'EXPIRE', 'EXPIRED'),
  ('UNKNOWN', 'FILL', 'FILLED'),
  ('UNKNOWN', 'LOSE', 'REJECTED'),
  ('UNKNOWN', 'PARTIAL_FILL', 'PARTIALLY_FILLED'),
  ('UNKNOWN', 'REJECT', 'REJECTED'),
  ('UNKNOWN', 'SUBMIT', 'SUBMITTED');

CREATE TABLE exec_accounts (
    account        text PRIMARY KEY,
    venue          text NOT NULL,
    mode           text NOT NULL CHECK (mode IN ('live', 'shadow')),
    base_url       text,
    key_id         text,           -- id of the KEK that sealed key_ciphertext (rotation)
    key_ciphertext bytea,          -- nonce || AES-256-GCM(api key + secret), associated data = account
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id                bigserial   PRIMARY KEY,
    command_id        text        NOT NULL UNIQUE,
    client_order_id   text        NOT NULL UNIQUE,
    account           text        NOT NULL,
    venue             text        NOT NULL,
    mode              text        NOT NULL CHECK (mode IN ('live', 'shadow')),
    symbol            text        NOT NULL,
    side              text        NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type        text        NOT NULL,
    quantity          numeric     NOT NULL CHECK (quantity > 0),
    limit_price       numeric,
    stop_price        numeric,
    activation_price  numeric,
    callback_rate     numeric,
    reduce_only       boolean     NOT NULL DEFAULT false,
    time_in_force     text,
    intent            text        NOT NULL,
    strategy_id       text        NOT NULL,
    expires_at        timestamptz,
    replaces_command_id text,
    command_event     jsonb       NOT NULL,  -- the command envelope: correlation for every output
    state             text        NOT NULL CHECK (state IN ('NEW', 'SUBMITTED', 'UNKNOWN', 'OPEN', 'PARTIALLY_FILLED', 'CANCELING', 'FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')),
    seq               integer     NOT NULL DEFAULT 0,  -- number of order_events rows
    venue_order_id    text,
    venue_status      text,
    reason            text,
    misses            integer     NOT NULL DEFAULT 0,  -- consecutive "venue does not know it" answers
    first_missed_at   timestamptz,
    checked_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_in_flight ON orders (created_at)
    WHERE state NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED');
CREATE INDEX orders_account_symbol ON orders (account, symbol);

CREATE TABLE order_events (
    order_id     bigint      NOT NULL REFERENCES orders (id),
    seq          integer     NOT NULL,
    event_id     text        NOT NULL UNIQUE,
    from_state   text        NOT NULL,
    trigger      text        NOT NULL,
    to_state     text        NOT NULL,
    reason       text,
    venue_status text,
    actor        text        NOT NULL,  -- executor, reconciler, recovery
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, seq),
    FOREIGN KEY (from_state, trigger, to_state) REFERENCES order_transitions (from_state, trigger, to_state)
);

CREATE TABLE fills (
    id             bigserial   PRIMARY KEY,
    order_id       bigint      NOT NULL REFERENCES orders (id),
    account        text        NOT NULL,
    venue          text        NOT NULL,
    venue_trade_id text        NOT NULL,
    quantity       numeric     NOT NULL CHECK (quantity > 0),
    price          numeric     NOT NULL CHECK (price > 0),
    fee            numeric     NOT NULL DEFAULT 0,
    fee_asset      text,
    is_maker       boolean,
    traded_at      timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (venue, account, venue_trade_id)
);
CREATE INDEX fills_order ON fills (order_id);

-- Filled quantity and average price are derived from fills, never stored twice.
CREATE VIEW order_fill_totals AS
SELECT order_id,
       sum(quantity)                         AS filled_quantity,
       sum(quantity * price) / sum(quantity) AS average_price,
       sum(fee)                              AS fee
FROM fills GROUP BY order_id;

CREATE TABLE reconciliation_audit (
    id         bigserial   PRIMARY KEY,
    run_id     text        NOT NULL,
    order_id   bigint      REFERENCES orders (id),
    account    text        NOT NULL,
    action     text        NOT NULL,  -- transition, fill, miss, lost, orphan, query_failed
    details    jsonb       NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_audit_order ON reconciliation_audit (order_id);

CREATE TABLE venue_clock (
    venue_key   text        PRIMARY KEY,  -- account whose venue endpoint was measured
    offset_ms   numeric     NOT NULL,     -- venue time - local time, round-trip corrected
    rtt_ms      numeric     NOT NULL,
    measured_at timestamptz NOT NULL
);

-- The operator's switch that strategy and risk stages honour; recovery sets it.
CREATE TABLE strategy_control (
    scope      text        PRIMARY KEY,  -- 'all' or a strategy id
    stopped    boolean     NOT NULL,
    reason     text        NOT NULL,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The SHADOW adapter's own venue: simulated orders and fills, never sent anywhere.
CREATE TABLE shadow_orders (
    account         text        NOT NULL,
    client_order_id text        NOT NULL,
    venue_order_id  text        NOT NULL UNIQUE,
    body            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, client_order_id)
);
CREATE SEQUENCE shadow_ids START 1;

CREATE FUNCTION kairos_order_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'NEW' THEN
            RAISE EXCEPTION 'order % must start in NEW, not %', NEW.client_order_id, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT EXISTS (
        SELECT 1 FROM order_transitions t WHERE t.from_state = OLD.state AND t.to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'illegal order transition % -> % for %', OLD.state, NEW.state, OLD.client_order_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_guard BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION kairos_order_guard();

CREATE FUNCTION kairos_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER order_events_append_only BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION kairos_append_only();
CREATE TRIGGER fills_append_only BEFORE UPDATE OR DELETE ON fills
    FOR EACH ROW EXECUTE FUNCTION kairos_append_only();
