-- Entries a backtest's risk checks rejected (kairos.backtest.risk), with their reason codes:
-- stored with the run's result; empty when the run had no risk limits.
ALTER TABLE backtest_results ADD COLUMN IF NOT EXISTS rejections jsonb NOT NULL DEFAULT '[]'::jsonb;
