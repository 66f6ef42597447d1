-- Market data: candles from the venues (cron + normalize, backfill, import) and what to fetch.

-- One row per (venue, symbol, timeframe, open time, revision): a venue that corrects a candle
-- produces revision 2, 3, ... beside the first, never an overwrite. Range-partitioned by
-- open_time, one partition per month (kairos.marketdata.store creates them ahead as needed),
-- so years of 1 m candles stay fast to write, to read by range and to drop by month.
-- The key's text columns compare bytewise (COLLATE "C"): no locale rules are needed for
-- identifiers, and the primary-key index takes bulk loads markedly faster that way.
CREATE TABLE IF NOT EXISTS candles (
    venue        text COLLATE "C" NOT NULL,
    symbol       text COLLATE "C" NOT NULL,
    timeframe    text COLLATE "C" NOT NULL,
    open_time    timestamptz NOT NULL,
    revision     integer     NOT NULL DEFAULT 1 CHECK (revision >= 1),
    close_time   timestamptz NOT NULL,
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       numeric     NOT NULL CHECK (volume >= 0),
    quote_volume numeric,
    trades       bigint,
    origin       text        NOT NULL CHECK (origin IN ('venue', 'backfill', 'import')),
    stored_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, timeframe, open_time, revision),
    CHECK (low > 0 AND low <= open AND low <= close AND high >= open AND high >= close),
    CHECK (close_time > open_time)
) PARTITION BY RANGE (open_time);

-- The current version of every candle (its highest revision).
CREATE OR REPLACE VIEW candles_latest AS
SELECT DISTINCT ON (venue, symbol, timeframe, open_time) *
FROM candles
ORDER BY venue, symbol, timeframe, open_time, revision DESC;

-- What the candles cron fetches and the ticker source polls. last_open_time is the newest
-- candle stored for it (normalize moves it forward only): the cron's cursor.
CREATE TABLE IF NOT EXISTS market_subscriptions (
    venue          text        NOT NULL,
    symbol         text        NOT NULL,
    timeframe      text        NOT NULL,
    since          timestamptz NOT NULL,
    last_open_time timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, timeframe)
);

-- Candles the venue could not deliver when asked (a hole in its own history): reported once
-- as an alert, listed by `kairos candles gaps`, not asked for again every minute.
CREATE TABLE IF NOT EXISTS candle_gaps (
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    timeframe   text        NOT NULL,
    gap_start   timestamptz NOT NULL,
    gap_end     timestamptz NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, timeframe, gap_start)
);

-- Where an interrupted `kairos candles backfill` resumes.
CREATE TABLE IF NOT EXISTS candle_backfills (
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    timeframe   text        NOT NULL,
    since       timestamptz NOT NULL,
    next_start  timestamptz NOT NULL,
    stored      bigint      NOT NULL DEFAULT 0,
    finished_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, timeframe, since)
);
