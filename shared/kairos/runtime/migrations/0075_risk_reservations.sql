-- The risk guardian's reservations as running totals per scope, so a decision reads what its
-- scopes have reserved in O(symbols held) instead of scanning every approval of the day.
--
-- The rule (kairos.risk.exposure): an approval of an increasing order reserves its notional
-- from its decision until its order is final and every fill of it is in the positions
-- projection; without an order it stops reserving after the reservation TTL; after a day it
-- stops in any case.
--
-- * ``risk_reservations``: the approvals that reserve by that rule's events (no order yet, an
--   order not final, or a fill not yet projected). Triggers on every table the rule reads keep
--   it, in the transaction of the change (an approval, an order inserted or changing state, a
--   fill, a projected fill), so a crash can never leave it apart from what caused it. The two
--   time limits (the TTL of an approval without an order, the day) are applied by the reader.
-- * ``risk_reserved_journal``: every change of a reservation as signed deltas, one row per
--   scope it counts in (global, its account, its strategy). Writers only insert: an executor
--   or the projection never waits on a hot total row.
-- * ``risk_reserved_totals``: per scope and symbol, the sum of the deltas folded so far. The
--   reader (``risk_reserved_read``, under the guardian's scope locks) expires what the time
--   limits end, folds its scopes' journal rows into their totals and returns the totals.
--
-- ``risk_reservations_rebuild()`` recomputes all three from the approvals, orders and fills.
--
-- The orders of the last minute (``max_orders_per_minute``) are counted the same way: the
-- approval trigger adds one to its scopes' counter of its second (``risk_rate_buckets``), and
-- ``risk_rate_read`` sums the seconds wholly inside the window and counts the approvals of the
-- one second the window cuts, instead of counting every approval of the minute.

CREATE TABLE risk_reservations (
    command_id  text        PRIMARY KEY,
    account     text        NOT NULL,
    strategy_id text        NOT NULL,
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    notional    numeric     NOT NULL,
    opens       boolean     NOT NULL,     -- the approval opens a position in the account
    ordered     boolean     NOT NULL,     -- an order exists: the TTL no longer applies
    decided_at  timestamptz NOT NULL
);
CREATE INDEX risk_reservations_unordered ON risk_reservations (decided_at) WHERE NOT ordered;
CREATE INDEX risk_reservations_decided ON risk_reservations (decided_at);

-- scope: 'global', 'account:<id>' or 'strategy:<id>' (the keys of risk_scope_locks)
CREATE TABLE risk_reserved_journal (
    id       bigserial PRIMARY KEY,
    scope    text      NOT NULL,
    venue    text      NOT NULL,
    symbol   text      NOT NULL,
    notional numeric   NOT NULL,
    n        integer   NOT NULL,
    opens    integer   NOT NULL
);
CREATE INDEX risk_reserved_journal_scope ON risk_reserved_journal (scope);

CREATE TABLE risk_reserved_totals (
    scope    text    NOT NULL,
    venue    text    NOT NULL,
    symbol   text    NOT NULL,
    notional numeric NOT NULL,
    n        integer NOT NULL,   -- reservations counted
    opens    integer NOT NULL,   -- of which open a position
    PRIMARY KEY (scope, venue, symbol)
);

-- Approvals per scope and second of ``decided_at`` (scope keys as in the journal).
CREATE TABLE risk_rate_buckets (
    scope  text        NOT NULL,
    second timestamptz NOT NULL,
    n      integer     NOT NULL,
    PRIMARY KEY (scope, second)
);

-- One approval (delta +1) or its removal (-1) in its scopes' counters.
CREATE FUNCTION risk_rate_count(ap risk_approvals, delta integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO risk_rate_buckets AS b (scope, second, n)
    SELECT s, date_trunc('second', ap.decided_at), delta
    FROM unnest(ARRAY['global', 'account:' || ap.account, 'strategy:' || ap.strategy_id]) s ORDER BY s
    ON CONFLICT (scope, second) DO UPDATE SET n = b.n + EXCLUDED.n
$$;

-- One reservation's deltas (sign +1 or -1) into the journal, for each scope it counts in.
CREATE FUNCTION risk_reserved_journal_add(r risk_reservations, delta integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO risk_reserved_journal (scope, venue, symbol, notional, n, opens)
    SELECT s, r.venue, r.symbol, delta * r.notional, delta, CASE WHEN r.opens THEN delta ELSE 0 END
    FROM unnest(ARRAY['global', 'account:' || r.account, 'strategy:' || r.strategy_id]) s
$$;

-- Whether an approval reserves by the rule's events (the TTL of an approval without an order
-- is the reader's): increasing, decided within the day, and no order yet, or an order not
-- final, or a fill of it not in the positions projection.
CREATE FUNCTION risk_approval_reserving(ap risk_approvals, oid bigint, ostate text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT ap.increases AND ap.decided_at > now() - interval '1 day' AND (
        oid IS NULL
        OR ostate NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')
        OR EXISTS (SELECT 1 FROM fills f WHERE f.order_id = oid AND NOT EXISTS (
            SELECT 1 FROM position_fills pf
            WHERE pf.account = f.account AND pf.venue = f.venue AND pf.venue_trade_id = f.venue_trade_id)))
$$;

-- Make the reservation of one command match the rule, journaling what changed. The approval's
-- row lock makes the syncs of one command take turns, each reading what the one before
-- committed: the last to commit has seen every change.
CREATE FUNCTION risk_reservation_sync(cmd text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    a risk_approvals;
    oid bigint;
    ostate text;
    r risk_reservations;
BEGIN
    SELECT * INTO a FROM risk_approvals WHERE command_id = cmd FOR UPDATE;
    IF NOT FOUND OR NOT a.increases THEN
        RETURN;
    END IF;
    SELECT id, state INTO oid, ostate FROM orders WHERE command_id = cmd;
    IF risk_approval_reserving(a, oid, ostate) THEN
        -- the update waits for a reader expiring the row at the same moment, then finds it gone
        UPDATE risk_reservations SET ordered = (oid IS NOT NULL) WHERE command_id = cmd;
        IF NOT FOUND THEN
            INSERT INTO risk_reservations
            VALUES (cmd, a.account, a.strategy_id, a.venue, a.symbol, a.quantity * a.price, a.opens_position,
                    oid IS NOT NULL, a.decided_at)
            RETURNING * INTO r;
            PERFORM risk_reserved_journal_add(r, 1);
        END IF;
    ELSE
        DELETE FROM risk_reservations WHERE command_id = cmd RETURNING * INTO r;
        IF FOUND THEN
            PERFORM risk_reserved_journal_add(r, -1);
        END IF;
    END IF;
END
$$;

CREATE FUNCTION risk_reservation_sync_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_ record;
    cmd text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_ := OLD;
    ELSE
        row_ := NEW;
    END IF;
    IF TG_TABLE_NAME = 'risk_approvals' THEN
        PERFORM risk_rate_count(NEW, 1);
        cmd := row_.command_id;
    ELSIF TG_TABLE_NAME = 'orders' THEN
        cmd := row_.command_id;
    ELSIF TG_TABLE_NAME = 'fills' THEN
        SELECT o.command_id INTO cmd FROM orders o WHERE o.id = row_.order_id;
    ELSE  -- position_fills
        SELECT o.command_id INTO cmd FROM fills f JOIN orders o ON o.id = f.order_id
        WHERE f.venue = row_.venue AND f.account = row_.account AND f.venue_trade_id = row_.venue_trade_id;
    END IF;
    IF cmd IS NOT NULL THEN
        PERFORM risk_reservation_sync(cmd);
    END IF;
    RETURN NULL;
END
$$;

-- An approval deleted (or changed: approvals are written once, but nothing forbids it) takes
-- its reservation with it; a changed one is then synced again.
CREATE FUNCTION risk_reservation_on_approval_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r risk_reservations;
BEGIN
    DELETE FROM risk_reservations WHERE command_id = OLD.command_id RETURNING * INTO r;
    IF FOUND THEN
        PERFORM risk_reserved_journal_add(r, -1);
    END IF;
    PERFORM risk_rate_count(OLD, -1);
    IF TG_OP = 'UPDATE' THEN
        PERFORM risk_rate_count(NEW, 1);
        PERFORM risk_reservation_sync(NEW.command_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER risk_reservation_on_approval AFTER INSERT ON risk_approvals
    FOR EACH ROW EXECUTE FUNCTION risk_reservation_sync_trigger();
CREATE TRIGGER risk_reservation_on_approval_change AFTER UPDATE OR DELETE ON risk_approvals
    FOR EACH ROW EXECUTE FUNCTION risk_reservation_on_approval_change();
CREATE TRIGGER risk_reservation_on_order AFTER INSERT OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION risk_reservation_sync_trigger();
CREATE TRIGGER risk_reservation_on_order_state AFTER UPDATE OF state ON orders
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION risk_reservation_sync_trigger();
CREATE TRIGGER risk_reservation_on_fill AFTER INSERT OR DELETE ON fills
    FOR EACH ROW EXECUTE FUNCTION risk_reservation_sync_trigger();
CREATE TRIGGER risk_reservation_on_position_fill AFTER INSERT OR DELETE ON position_fills
    FOR EACH ROW EXECUTE FUNCTION risk_reservation_sync_trigger();

-- Recompute the reservations, the journal, the totals and the counters of the last minutes
-- from the approvals, orders and fills (after a TRUNCATE of one of them, or by an operator who
-- doubts the totals). Writers wait.
CREATE FUNCTION risk_reservations_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE risk_reservations, risk_reserved_journal, risk_reserved_totals, risk_rate_buckets IN EXCLUSIVE MODE;
    DELETE FROM risk_reservations;
    DELETE FROM risk_reserved_journal;
    DELETE FROM risk_reserved_totals;
    DELETE FROM risk_rate_buckets;
    INSERT INTO risk_rate_buckets (scope, second, n)
    SELECT s, date_trunc('second', a.decided_at), count(*)
    FROM risk_approvals a, unnest(ARRAY['global', 'account:' || a.account, 'strategy:' || a.strategy_id]) s
    WHERE a.decided_at > now() - interval '2 minutes'
    GROUP BY 1, 2;
    INSERT INTO risk_reservations
    SELECT a.command_id, a.account, a.strategy_id, a.venue, a.symbol, a.quantity * a.price, a.opens_position,
           o.id IS NOT NULL, a.decided_at
    FROM risk_approvals a LEFT JOIN orders o ON o.command_id = a.command_id
    WHERE risk_approval_reserving(a, o.id, o.state);
    INSERT INTO risk_reserved_totals (scope, venue, symbol, notional, n, opens)
    SELECT s, r.venue, r.symbol, sum(r.notional), count(*), count(*) FILTER (WHERE r.opens)
    FROM risk_reservations r,
         unnest(ARRAY['global', 'account:' || r.account, 'strategy:' || r.strategy_id]) s
    GROUP BY s, r.venue, r.symbol;
END
$$;

CREATE FUNCTION risk_reservations_rebuild_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM risk_reservations_rebuild();
    RETURN NULL;
END
$$;

CREATE TRIGGER risk_reservations_rebuild_on_truncate AFTER TRUNCATE ON risk_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION risk_reservations_rebuild_trigger();
CREATE TRIGGER risk_reservations_rebuild_on_truncate AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION risk_reservations_rebuild_trigger();
CREATE TRIGGER risk_reservations_rebuild_on_truncate AFTER TRUNCATE ON fills
    FOR EACH STATEMENT EXECUTE FUNCTION risk_reservations_rebuild_trigger();
CREATE TRIGGER risk_reservations_rebuild_on_truncate AFTER TRUNCATE ON position_fills
    FOR EACH STATEMENT EXECUTE FUNCTION risk_reservations_rebuild_trigger();

-- What the scopes (keys as in the journal) have reserved now, per symbol, for the guardian
-- under its scope locks: first the reservations the time limits ended (without an order after
-- ``ttl_s``, any after a day) leave, then the scopes' journal rows are folded into their totals.
-- (Both readers keep to the indexes: without statistics yet, the planner would scan the whole
-- tables for the few rows that expired.)
CREATE FUNCTION risk_reserved_read(scopes text[], ttl_s double precision)
RETURNS TABLE (scope text, venue text, symbol text, notional numeric, n integer, opens integer)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    r risk_reservations;
BEGIN
    FOR r IN
        DELETE FROM risk_reservations x WHERE NOT x.ordered AND x.decided_at <= now() - make_interval(secs => ttl_s)
        RETURNING x.*
    LOOP
        PERFORM risk_reserved_journal_add(r, -1);
    END LOOP;
    FOR r IN
        DELETE FROM risk_reservations x WHERE x.decided_at <= now() - interval '1 day' RETURNING x.*
    LOOP
        PERFORM risk_reserved_journal_add(r, -1);
    END LOOP;
    WITH moved AS (
        DELETE FROM risk_reserved_journal j WHERE j.scope = ANY(scopes)
        RETURNING j.scope, j.venue, j.symbol, j.notional, j.n, j.opens
    )
    INSERT INTO risk_reserved_totals AS t (scope, venue, symbol, notional, n, opens)
    SELECT m.scope, m.venue, m.symbol, sum(m.notional), sum(m.n), sum(m.opens)
    FROM moved m GROUP BY m.scope, m.venue, m.symbol
    ON CONFLICT ON CONSTRAINT risk_reserved_totals_pkey DO UPDATE
    SET notional = t.notional + EXCLUDED.notional, n = t.n + EXCLUDED.n, opens = t.opens + EXCLUDED.opens;
    RETURN QUERY
    SELECT t.scope, t.venue, t.symbol, t.notional, t.n, t.opens
    FROM risk_reserved_totals t WHERE t.scope = ANY(scopes) AND t.n <> 0;
END
$$;

-- Approvals per scope of the last ``window_s`` seconds (``decided_at`` after now - window):
-- the counters of the seconds wholly inside the window, plus the approvals of the second the
-- window's start cuts, counted one by one. Counters older than the window are dropped.
CREATE FUNCTION risk_rate_read(scopes text[], window_s double precision)
RETURNS TABLE (scope text, n bigint)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    since timestamptz := now() - make_interval(secs => window_s);
BEGIN
    DELETE FROM risk_rate_buckets b WHERE b.scope = ANY(scopes) AND b.second <= since;
    RETURN QUERY
    SELECT k.key,
           (SELECT coalesce(sum(b.n), 0) FROM risk_rate_buckets b WHERE b.scope = k.key AND b.second > since)::bigint
         + (SELECT count(*) FROM risk_approvals a
            WHERE a.decided_at > since AND a.decided_at < date_trunc('second', since) + interval '1 second'
              AND (k.key = 'global' OR k.key = 'account:' || a.account OR k.key = 'strategy:' || a.strategy_id))
    FROM unnest(scopes) k(key);
END
$$;

-- The approvals of the second a minute's window cuts, found by time.
CREATE INDEX risk_approvals_decided ON risk_approvals (decided_at);

-- The approvals already recorded.
SELECT risk_reservations_rebuild();
