-- Up Migration
-- Payments LNbits lost (chaos defect 9): LNbits 1.6.2, killed between the two rows of an internal payment,
-- can keep the source wallet's outgoing row success (the source is debited) and fail the recipient's incoming
-- row at its restart (the recipient is never credited). `satmachine tx settle-lost-payment` records such a
-- loss here — only after it verified exactly that signature in LNbits with each wallet's own key — BEFORE
-- the payout gets a new invoice. One row per lost hash (running the command again records nothing new).
-- evidence: the two LNbits rows as read (wallet, checking id, status, amount in msat); never a key.
CREATE TABLE satoshimachine.lnbits_losses (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payment_id uuid NOT NULL REFERENCES satoshimachine.payments (id),
  transaction_id uuid NOT NULL REFERENCES satoshimachine.lamassu_transactions (id),
  client_id uuid REFERENCES satoshimachine.clients (id),
  lost_payment_hash text NOT NULL UNIQUE CHECK (lost_payment_hash ~ '^[0-9a-f]{64}$'),
  amount_sats bigint NOT NULL CHECK (amount_sats > 0),
  evidence jsonb NOT NULL,
  note text NOT NULL CHECK (btrim(note) <> ''),
  recorded_by text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lnbits_losses_payment ON satoshimachine.lnbits_losses (payment_id);
CREATE TRIGGER lnbits_losses_append_only BEFORE UPDATE OR DELETE ON satoshimachine.lnbits_losses
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();

-- The invoice guard (1732800030000_invoice_expiry.sql) lets only a pending payout's invoice change. One more
-- case: a FAILED payout whose current hash is a recorded LNbits loss of that same payout gets its new invoice
-- (the old hash appended to replaced_payment_hashes as always), so that the operator's retry pays it.
CREATE OR REPLACE FUNCTION satoshimachine.payments_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.replaced_payment_hashes[1:cardinality(OLD.replaced_payment_hashes)] IS DISTINCT FROM OLD.replaced_payment_hashes THEN
    RAISE EXCEPTION 'payment % : replaced_payment_hashes is append-only', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.payment_hash IS NOT NULL AND NEW.payment_hash IS DISTINCT FROM OLD.payment_hash THEN
    IF OLD.status <> 'pending' AND NOT (OLD.status = 'failed' AND EXISTS (
         SELECT 1 FROM satoshimachine.lnbits_losses l WHERE l.payment_id = OLD.id AND l.lost_payment_hash = OLD.payment_hash)) THEN
      RAISE EXCEPTION 'payment % : the invoice of a % payout never changes', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.payment_hash IS NULL OR NEW.replaced_payment_hashes IS DISTINCT FROM OLD.replaced_payment_hashes || OLD.payment_hash THEN
      RAISE EXCEPTION 'payment % : a replaced invoice hash must be appended to replaced_payment_hashes', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
  END IF;
  RETURN NEW;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION satoshimachine.payments_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.replaced_payment_hashes[1:cardinality(OLD.replaced_payment_hashes)] IS DISTINCT FROM OLD.replaced_payment_hashes THEN
    RAISE EXCEPTION 'payment % : replaced_payment_hashes is append-only', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.payment_hash IS NOT NULL AND NEW.payment_hash IS DISTINCT FROM OLD.payment_hash THEN
    IF OLD.status <> 'pending' THEN
      RAISE EXCEPTION 'payment % : the invoice of a % payout never changes', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.payment_hash IS NULL OR NEW.replaced_payment_hashes IS DISTINCT FROM OLD.replaced_payment_hashes || OLD.payment_hash THEN
      RAISE EXCEPTION 'payment % : a replaced invoice hash must be appended to replaced_payment_hashes', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
  END IF;
  RETURN NEW;
END $$;
DROP TABLE IF EXISTS satoshimachine.lnbits_losses;
