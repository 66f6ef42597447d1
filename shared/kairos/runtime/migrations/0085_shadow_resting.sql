-- Every ticker of a symbol asks whether SHADOW orders rest on it (the reconciler re-evaluates
-- them at the new price). Nearly always none do: this partial index answers that from a
-- handful of entries instead of the orders table.
CREATE INDEX orders_shadow_resting ON orders (venue, symbol)
    WHERE mode = 'shadow' AND state NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED');
