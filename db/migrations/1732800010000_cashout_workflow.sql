-- Up Migration
-- The cash-out workflow's bookkeeping (issue #4).

-- The Temporal run that owns a transaction. A second run (a duplicate start after the workflow id's
-- retention, a fresh id for the same row, a reset) finds a different run id here and stops as a duplicate.
ALTER TABLE satoshimachine.lamassu_transactions ADD COLUMN run_id text;

-- Compensation and operator retry. A payout's fiat debit can be released (payout failed, balance restored)
-- and later reserved again (operator retry). Each reservation is a "round"; balance_log records each
-- reserve/release once per round, so the database still refuses a double debit or a double restore.
ALTER TABLE satoshimachine.payments
  ADD COLUMN reserve_round integer NOT NULL DEFAULT 1 CHECK (reserve_round >= 1),
  -- Whether the client's fiat debit is currently applied (meaningless when fiat_debit_minor = 0).
  ADD COLUMN debit_held boolean NOT NULL DEFAULT true,
  ADD COLUMN last_attempt_at timestamptz;
-- Rows cancelled before this migration had their debit released by releasePayout.
UPDATE satoshimachine.payments SET debit_held = false WHERE status = 'cancelled' AND fiat_debit_minor > 0;
-- A pending or completed payout holds its client's debit, a cancelled one never does; a failed one may
-- (failed before this migration: still debited) or may not (compensated by the cash-out workflow).
ALTER TABLE satoshimachine.payments ADD CONSTRAINT payments_debit_held_matches_status
  CHECK (fiat_debit_minor = 0
         OR (status IN ('pending', 'completed') AND debit_held)
         OR (status = 'cancelled' AND NOT debit_held)
         OR status = 'failed');

ALTER TABLE satoshimachine.balance_log ADD COLUMN reserve_round integer NOT NULL DEFAULT 1 CHECK (reserve_round >= 1);
DROP INDEX satoshimachine.balance_log_once_per_payment_reason;
CREATE UNIQUE INDEX balance_log_once_per_payment_round ON satoshimachine.balance_log (payment_id, reason, reserve_round)
  WHERE payment_id IS NOT NULL;

-- Funding (superuser-credit): a pending row whose LNbits call may have happened (attempts > 0) when a
-- retry finds it is not credited again automatically: it becomes needs_attention for the operator.
ALTER TABLE satoshimachine.funding_credits DROP CONSTRAINT funding_credits_status_check;
ALTER TABLE satoshimachine.funding_credits ADD CONSTRAINT funding_credits_status_check
  CHECK (status IN ('pending', 'done', 'needs_attention'));

-- Down Migration
ALTER TABLE satoshimachine.funding_credits DROP CONSTRAINT funding_credits_status_check;
ALTER TABLE satoshimachine.funding_credits ADD CONSTRAINT funding_credits_status_check CHECK (status IN ('pending', 'done'));
DROP INDEX satoshimachine.balance_log_once_per_payment_round;
CREATE UNIQUE INDEX balance_log_once_per_payment_reason ON satoshimachine.balance_log (payment_id, reason) WHERE payment_id IS NOT NULL;
ALTER TABLE satoshimachine.balance_log DROP COLUMN reserve_round;
ALTER TABLE satoshimachine.payments DROP CONSTRAINT payments_debit_held_matches_status;
ALTER TABLE satoshimachine.payments DROP COLUMN last_attempt_at, DROP COLUMN debit_held, DROP COLUMN reserve_round;
ALTER TABLE satoshimachine.lamassu_transactions DROP COLUMN run_id;
