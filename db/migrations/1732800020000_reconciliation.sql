-- Up Migration
-- Scheduled operations (issue #6): the daily reconciliation report with its balance snapshot, and the
-- delivery status of alerts (the alerts table is the record; webhook/e-mail are best-effort channels).

-- One row per reconciliation run. run_key (the Temporal workflow run id, or any caller key) makes the
-- activity that creates it idempotent under retries.
CREATE TABLE satoshimachine.reconciliation_reports (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_key text NOT NULL UNIQUE CHECK (length(run_key) > 0),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- Capped list of findings ({kind, severity, subject, message, details}); full counts are in summary.
  findings jsonb NOT NULL DEFAULT '[]'::jsonb,
  summary jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX reconciliation_reports_started ON satoshimachine.reconciliation_reports (started_at DESC);

-- The runbook's "automated snapshots of all balances daily": every client's stored balance next to the
-- balance derived from deposits, payouts and adjustments, at the report's database snapshot.
CREATE TABLE satoshimachine.balance_snapshots (
  report_id bigint NOT NULL REFERENCES satoshimachine.reconciliation_reports (id),
  client_id uuid NOT NULL REFERENCES satoshimachine.clients (id),
  stored_fiat_minor bigint NOT NULL,
  derived_fiat_minor bigint NOT NULL,
  PRIMARY KEY (report_id, client_id)
);

-- Delivery of an alert to the optional channels. delivered_at: every configured channel accepted it;
-- delivery_error: the last failure (the alert itself is never lost: this row is the alert).
ALTER TABLE satoshimachine.alerts
  ADD COLUMN delivered_at timestamptz,
  ADD COLUMN delivery_error text,
  ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0);
CREATE INDEX alerts_undelivered ON satoshimachine.alerts (created_at) WHERE delivered_at IS NULL AND delivery_error IS NOT NULL;

-- Down Migration
DROP INDEX IF EXISTS satoshimachine.alerts_undelivered;
ALTER TABLE satoshimachine.alerts DROP COLUMN IF EXISTS delivery_attempts, DROP COLUMN IF EXISTS delivery_error, DROP COLUMN IF EXISTS delivered_at;
DROP TABLE IF EXISTS satoshimachine.balance_snapshots;
DROP TABLE IF EXISTS satoshimachine.reconciliation_reports;
