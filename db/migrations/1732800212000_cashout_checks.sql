-- Up Migration
-- Issue 12: only real, plausible cash-outs are paid, and none stays silent.

-- 'held': a cash-out that failed a plausibility check waits for the operator (`satmachine tx approve|reject`).
ALTER TABLE satoshimachine.lamassu_transactions DROP CONSTRAINT lamassu_transactions_status_check;
ALTER TABLE satoshimachine.lamassu_transactions ADD CONSTRAINT lamassu_transactions_status_check
  CHECK (status IN ('received', 'processing', 'held', 'completed', 'failed', 'needs_attention', 'rejected'));

-- Lamassu's admin allows commissions from −15 % to 100 % (the split itself never goes negative: see
-- domain/commission.ts, the excess is capped and the cash-out held).
ALTER TABLE satoshimachine.lamassu_transactions DROP CONSTRAINT lamassu_transactions_effective_commission_check;
ALTER TABLE satoshimachine.lamassu_transactions ADD CONSTRAINT lamassu_transactions_effective_commission_check
  CHECK (effective_commission >= -0.15 AND effective_commission <= 1);

-- The commission split's parts that are not base/commission: the fixed fee's sats (inside commission_sats)
-- and the excess capped away (what the commission wallet would owe the clients).
ALTER TABLE satoshimachine.lamassu_transactions
  ADD COLUMN fixed_fee_sats bigint CHECK (fixed_fee_sats >= 0),
  ADD COLUMN excess_sats bigint CHECK (excess_sats >= 0);

-- Rows Lamassu counts as dispensed (error IS NULL AND dispense) that have not become payable (confirmed and
-- dispense_confirmed) within cashOutChecks.dispensedNotFinalHours: seen by the poller, alerted once, listed by
-- `satmachine status` until they become payable or leave the look-back.
CREATE TABLE satoshimachine.lamassu_unfinished_rows (
  lamassu_id uuid PRIMARY KEY,
  lamassu_status text NOT NULL,
  dispense_confirmed boolean,
  crypto_code text NOT NULL,
  crypto_atoms text NOT NULL,
  fiat text NOT NULL,
  fiat_code text NOT NULL,
  created timestamptz NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  alerted_at timestamptz,
  -- Set when a later poll no longer finds it unfinished (it became payable, failed, or left the window).
  resolved_at timestamptz
);
CREATE INDEX lamassu_unfinished_rows_open ON satoshimachine.lamassu_unfinished_rows (created) WHERE resolved_at IS NULL;

-- Down Migration
DROP TABLE IF EXISTS satoshimachine.lamassu_unfinished_rows;
ALTER TABLE satoshimachine.lamassu_transactions DROP COLUMN IF EXISTS excess_sats, DROP COLUMN IF EXISTS fixed_fee_sats;
ALTER TABLE satoshimachine.lamassu_transactions DROP CONSTRAINT lamassu_transactions_effective_commission_check;
ALTER TABLE satoshimachine.lamassu_transactions ADD CONSTRAINT lamassu_transactions_effective_commission_check
  CHECK (effective_commission >= 0 AND effective_commission < 1);
ALTER TABLE satoshimachine.lamassu_transactions DROP CONSTRAINT lamassu_transactions_status_check;
ALTER TABLE satoshimachine.lamassu_transactions ADD CONSTRAINT lamassu_transactions_status_check
  CHECK (status IN ('received', 'processing', 'completed', 'failed', 'needs_attention', 'rejected'));
