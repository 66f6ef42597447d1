-- Why a position closed when no fill of ours closed it: the reconciler found the venue flat
-- (or on the other side) and closed the row. NULL for positions our own fills closed.
-- Values: external_close (by hand, or any trade Kairos did not send), liquidation,
-- auto_deleverage (what the venue says about the orders that closed it).
ALTER TABLE positions ADD COLUMN IF NOT EXISTS close_reason text
    CHECK (close_reason IN ('external_close', 'liquidation', 'auto_deleverage'));
