-- Up Migration
-- Expired payout invoices. A payout may wait days for the operator while its stored LNbits invoice expires.
-- A retry then replaces it with a fresh invoice, but only after LNbits reported the old one failed (an
-- expired internal invoice that LNbits has marked failed can no longer be paid) and the payer never paid it.
-- The replaced hashes stay on the payout, in order, so reconciliation and audit still find every invoice
-- that was ever issued for it.
ALTER TABLE satoshimachine.payments ADD COLUMN replaced_payment_hashes text[] NOT NULL DEFAULT '{}';
CREATE INDEX payments_replaced_payment_hashes ON satoshimachine.payments USING gin (replaced_payment_hashes);

-- The database refuses to lose an invoice: a payout's hash changes only from NULL, or to a new hash with the
-- old one appended to replaced_payment_hashes; the history only grows; a completed/cancelled payout's
-- invoice never changes.
CREATE FUNCTION satoshimachine.payments_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER payments_invoice_guard BEFORE UPDATE ON satoshimachine.payments
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.payments_invoice_guard();

-- Down Migration
DROP TRIGGER IF EXISTS payments_invoice_guard ON satoshimachine.payments;
DROP FUNCTION IF EXISTS satoshimachine.payments_invoice_guard();
DROP INDEX IF EXISTS satoshimachine.payments_replaced_payment_hashes;
ALTER TABLE satoshimachine.payments DROP COLUMN IF EXISTS replaced_payment_hashes;
