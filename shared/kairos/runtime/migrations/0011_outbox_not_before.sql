-- Outbox rows that must not be published before a given time (position-scheduler spreads a
-- minute's syncs over the minute). NULL = publish at once, as before. The after-commit
-- publisher holds such rows until due; the relay only takes them once due (plus its grace).
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS not_before timestamptz;
