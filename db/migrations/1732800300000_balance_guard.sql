-- Up Migration
-- Issue 13: the stored balance (clients.remaining_balance_fiat_minor) changes only through the ledger's
-- balance functions, and a discrepancy has an audited repair.
--
-- 1. Guard: at commit, a client's stored balance must equal the `after` of its newest balance_log row (0 when
--    it has none). applyBalanceChange writes both in one transaction; a hand-written
--    `UPDATE clients SET remaining_balance_fiat_minor = …` without its log row is refused (SQLSTATE 23514).
-- 2. Corrections: `satmachine clients repair-balance` sets the stored balance to the one derived from
--    deposits, payouts and adjustments. It is a new append-only row (who, why, stored before, derived) and a
--    balance_log entry of reason 'correction'; it does not change the derived balance (that is its point).

CREATE TABLE satoshimachine.balance_corrections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id uuid NOT NULL REFERENCES satoshimachine.clients (id),
  stored_before_fiat_minor bigint NOT NULL,
  derived_fiat_minor bigint NOT NULL CHECK (derived_fiat_minor >= 0),
  delta_fiat_minor bigint NOT NULL CHECK (delta_fiat_minor <> 0),
  reason text NOT NULL CHECK (length(btrim(reason)) > 0),
  actor text NOT NULL CHECK (length(btrim(actor)) > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (derived_fiat_minor = stored_before_fiat_minor + delta_fiat_minor)
);
CREATE INDEX balance_corrections_client ON satoshimachine.balance_corrections (client_id);
CREATE TRIGGER balance_corrections_append_only BEFORE UPDATE OR DELETE ON satoshimachine.balance_corrections
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();
CREATE TRIGGER balance_corrections_no_truncate BEFORE TRUNCATE ON satoshimachine.balance_corrections
  FOR EACH STATEMENT EXECUTE FUNCTION satoshimachine.forbid_change();

-- balance_log gains the correction reference; its two source CHECKs are replaced to include it.
ALTER TABLE satoshimachine.balance_log ADD COLUMN correction_id uuid REFERENCES satoshimachine.balance_corrections (id);
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint
            WHERE conrelid = 'satoshimachine.balance_log'::regclass AND contype = 'c'
              AND (pg_get_constraintdef(oid) LIKE '%num_nonnulls%' OR pg_get_constraintdef(oid) LIKE '%CASE%'
                   OR pg_get_constraintdef(oid) LIKE '%deposit_confirmed%')
  LOOP
    EXECUTE format('ALTER TABLE satoshimachine.balance_log DROP CONSTRAINT %I', c.conname);
  END LOOP;
END $$;
ALTER TABLE satoshimachine.balance_log
  ADD CONSTRAINT balance_log_reason_known CHECK (reason IN ('deposit_confirmed', 'payout_reserved', 'payout_released', 'adjustment', 'correction')),
  ADD CONSTRAINT balance_log_one_source CHECK (num_nonnulls(deposit_id, payment_id, adjustment_id, correction_id) = 1),
  ADD CONSTRAINT balance_log_source_matches_reason CHECK (CASE reason
           WHEN 'deposit_confirmed' THEN deposit_id IS NOT NULL AND delta_fiat_minor > 0
           WHEN 'payout_reserved' THEN payment_id IS NOT NULL AND delta_fiat_minor < 0
           WHEN 'payout_released' THEN payment_id IS NOT NULL AND delta_fiat_minor > 0
           WHEN 'correction' THEN correction_id IS NOT NULL
           ELSE adjustment_id IS NOT NULL
         END);
CREATE UNIQUE INDEX balance_log_once_per_correction ON satoshimachine.balance_log (correction_id) WHERE correction_id IS NOT NULL;

-- The newest log row of a client (the guard's lookup): per client, id order is the chain order.
CREATE INDEX balance_log_client_id ON satoshimachine.balance_log (client_id, id DESC);

CREATE FUNCTION satoshimachine.clients_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  stored bigint;
  logged bigint;
BEGIN
  -- Deferred to commit: read the row as it is now (several changes in one transaction are checked once each).
  SELECT remaining_balance_fiat_minor INTO stored FROM satoshimachine.clients WHERE id = NEW.id;
  IF NOT FOUND THEN RETURN NULL; END IF;
  SELECT after_fiat_minor INTO logged FROM satoshimachine.balance_log WHERE client_id = NEW.id ORDER BY id DESC LIMIT 1;
  IF stored IS DISTINCT FROM COALESCE(logged, 0) THEN
    RAISE EXCEPTION 'client %: remaining_balance_fiat_minor % does not match its balance_log (%): balances change only through the ledger''s balance functions (deposits, payouts, adjustments, repair-balance)',
      NEW.id, stored, COALESCE(logged, 0)
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER clients_balance_guard
  AFTER INSERT OR UPDATE OF remaining_balance_fiat_minor ON satoshimachine.clients
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.clients_balance_guard();

-- Down Migration
DROP TRIGGER IF EXISTS clients_balance_guard ON satoshimachine.clients;
DROP FUNCTION IF EXISTS satoshimachine.clients_balance_guard();
DROP INDEX IF EXISTS satoshimachine.balance_log_client_id;
DROP INDEX IF EXISTS satoshimachine.balance_log_once_per_correction;
ALTER TABLE satoshimachine.balance_log
  DROP CONSTRAINT IF EXISTS balance_log_reason_known,
  DROP CONSTRAINT IF EXISTS balance_log_one_source,
  DROP CONSTRAINT IF EXISTS balance_log_source_matches_reason;
ALTER TABLE satoshimachine.balance_log DROP COLUMN IF EXISTS correction_id;
ALTER TABLE satoshimachine.balance_log
  ADD CHECK (reason IN ('deposit_confirmed', 'payout_reserved', 'payout_released', 'adjustment')),
  ADD CHECK (num_nonnulls(deposit_id, payment_id, adjustment_id) = 1),
  ADD CHECK (CASE reason
           WHEN 'deposit_confirmed' THEN deposit_id IS NOT NULL AND delta_fiat_minor > 0
           WHEN 'payout_reserved' THEN payment_id IS NOT NULL AND delta_fiat_minor < 0
           WHEN 'payout_released' THEN payment_id IS NOT NULL AND delta_fiat_minor > 0
           ELSE adjustment_id IS NOT NULL
         END);
DROP TABLE IF EXISTS satoshimachine.balance_corrections;
