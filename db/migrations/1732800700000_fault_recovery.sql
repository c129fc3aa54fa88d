-- Up Migration
-- Fault recovery (issue 19).
-- cancelled_sats: sats of a cash-out's cancelled payouts. They stay in the source wallet, recorded here per
-- cash-out (like unallocated_sats), so that conservation (client payouts + unallocated + cancelled = base) holds.
ALTER TABLE satoshimachine.lamassu_transactions ADD COLUMN cancelled_sats bigint NOT NULL DEFAULT 0 CHECK (cancelled_sats >= 0);
-- adoptions: how often a recovery workflow took over the cash-out from a run that was gone (tx resume / sweep).
ALTER TABLE satoshimachine.lamassu_transactions ADD COLUMN adoptions integer NOT NULL DEFAULT 0;
-- waiting_since: a pending payout whose transfer keeps failing on an outage (LNbits or the ledger): the first
-- failure of the current streak ("waiting for LNbits since …"); cleared when the payout settles.
ALTER TABLE satoshimachine.payments ADD COLUMN waiting_since timestamptz;
-- The superuser credit is matched to its LNbits "Admin credit" row (LNbits 1.6.2's PUT /users/api/v1/balance
-- takes only {id, amount}: the row itself cannot carry the cash-out id). One LNbits row serves one cash-out.
ALTER TABLE satoshimachine.funding_credits ADD COLUMN lnbits_payment_hash text;
ALTER TABLE satoshimachine.funding_credits ADD COLUMN claimed_at timestamptz;
CREATE UNIQUE INDEX funding_credits_lnbits_payment_hash ON satoshimachine.funding_credits (lnbits_payment_hash) WHERE lnbits_payment_hash IS NOT NULL;

-- Down Migration
DROP INDEX IF EXISTS satoshimachine.funding_credits_lnbits_payment_hash;
ALTER TABLE satoshimachine.funding_credits DROP COLUMN IF EXISTS claimed_at;
ALTER TABLE satoshimachine.funding_credits DROP COLUMN IF EXISTS lnbits_payment_hash;
ALTER TABLE satoshimachine.payments DROP COLUMN IF EXISTS waiting_since;
ALTER TABLE satoshimachine.lamassu_transactions DROP COLUMN IF EXISTS adoptions;
ALTER TABLE satoshimachine.lamassu_transactions DROP COLUMN IF EXISTS cancelled_sats;
