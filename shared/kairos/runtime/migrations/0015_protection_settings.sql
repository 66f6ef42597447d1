-- Protection settings an operator stores per account and per strategy (kairos account protect).
-- A position takes, in this order: its strategy's row, the environment's per-strategy entry,
-- its account's row, the environment's default, and else the documented safe default
-- (kairos.portfolio.protection_settings.SAFE_DEFAULT). A row holding {} means "do not protect"
-- (chosen explicitly, and warned about for a LIVE account). Strategies have no table yet: they
-- are named by the strategy_id their orders carry.
CREATE TABLE IF NOT EXISTS protection_settings (
    scope       text        NOT NULL CHECK (scope IN ('account', 'strategy')),
    name        text        NOT NULL CHECK (name <> ''),
    protection  jsonb       NOT NULL,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, name)
);
