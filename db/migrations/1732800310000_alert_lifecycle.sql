-- Up Migration
-- Issue 13: alerts have a life cycle. open → acknowledged (an operator has seen it) → resolved (the condition
-- cleared: automatically by the check that raised it, or by an operator). Deduplication is by cause: the
-- fingerprint (kind, severity and the reason class) is part of the key, so a revoked key's critical alert is
-- never swallowed by an earlier timeout alert on the same subject. An unacknowledged critical alert is offered
-- to the channels again after config.alerts.renotifyCriticalMinutes.
ALTER TABLE satoshimachine.alerts
  ADD COLUMN fingerprint text NOT NULL DEFAULT '',
  ADD COLUMN acknowledge_reason text,
  ADD COLUMN resolved_at timestamptz,
  ADD COLUMN resolved_by text,
  ADD COLUMN resolve_reason text,
  ADD COLUMN last_notified_at timestamptz,
  ADD COLUMN notify_count integer NOT NULL DEFAULT 1 CHECK (notify_count >= 1),
  ADD CONSTRAINT alerts_resolved_by CHECK ((resolved_at IS NULL) = (resolved_by IS NULL));
UPDATE satoshimachine.alerts SET last_notified_at = created_at;
ALTER TABLE satoshimachine.alerts ALTER COLUMN last_notified_at SET DEFAULT now();
CREATE INDEX alerts_dedup_fingerprint ON satoshimachine.alerts (dedup_key, fingerprint, created_at DESC);
CREATE INDEX alerts_unresolved ON satoshimachine.alerts (dedup_key) WHERE resolved_at IS NULL;

-- Down Migration
DROP INDEX IF EXISTS satoshimachine.alerts_unresolved;
DROP INDEX IF EXISTS satoshimachine.alerts_dedup_fingerprint;
ALTER TABLE satoshimachine.alerts
  DROP CONSTRAINT IF EXISTS alerts_resolved_by,
  DROP COLUMN IF EXISTS notify_count,
  DROP COLUMN IF EXISTS last_notified_at,
  DROP COLUMN IF EXISTS resolve_reason,
  DROP COLUMN IF EXISTS resolved_by,
  DROP COLUMN IF EXISTS resolved_at,
  DROP COLUMN IF EXISTS acknowledge_reason,
  DROP COLUMN IF EXISTS fingerprint;
