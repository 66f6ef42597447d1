-- The latest mark price per venue and symbol. position-sync trails emulated stops and checks
-- "price already beyond the stop / past the TP" against it; only the reconciler (which may
-- reach the venue) writes it, once per tick for the symbols with open positions.
-- observed_at is our clock just before the venue was asked, so a mark is never younger than
-- it says; a row only moves forward in time.
CREATE TABLE IF NOT EXISTS mark_prices (
    venue        text        NOT NULL,
    symbol       text        NOT NULL,
    price        numeric     NOT NULL CHECK (price > 0),
    observed_at  timestamptz NOT NULL,
    PRIMARY KEY (venue, symbol)
);
