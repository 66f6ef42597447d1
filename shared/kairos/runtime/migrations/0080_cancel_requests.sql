-- A cancel (or the cancel half of an amend) is an intent that must outlive the command that
-- asked for it: once this row is committed the command is acknowledged, and the executor's
-- pending-outcome resolver drives the cancel until the order is final. The order's state
-- alone cannot hold the intent: an order still SUBMITTED/UNKNOWN cannot be CANCELING yet, and
-- the reconciler moves CANCELING back to OPEN when the venue still shows the order open.
CREATE TABLE order_cancel_requests (
    order_id     bigint      PRIMARY KEY REFERENCES orders (id),
    command_id   text        NOT NULL,  -- the cancel or amend command that asked first
    reason       text        NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,           -- when the cancel last left for the venue
    attempts     integer     NOT NULL DEFAULT 0
);

-- An amend's replacement placed without a quantity of its own takes what the target left
-- unfilled, known only once the target's cancel is final: the replacement waits in NEW.
ALTER TABLE orders ADD COLUMN remaining_of_target boolean NOT NULL DEFAULT false;
