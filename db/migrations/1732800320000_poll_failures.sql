-- Up Migration
-- Issue 13: the poller alerts by itself when its Lamassu fetches keep failing (SSH or Lamassu's database down),
-- instead of waiting for the 2-hourly health check. One row: since when fetches fail without a success.
CREATE TABLE satoshimachine.poll_failures (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  failing_since timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
  last_error text,
  last_success_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((failing_since IS NULL) = (consecutive_failures = 0))
);
INSERT INTO satoshimachine.poll_failures DEFAULT VALUES;

-- Down Migration
DROP TABLE IF EXISTS satoshimachine.poll_failures;
