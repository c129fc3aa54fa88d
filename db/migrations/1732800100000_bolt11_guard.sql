-- Up Migration
-- The invoice a payout pays is the bolt11 stored with it: the database guards it like payment_hash
-- (1732800030000_invoice_expiry.sql). It is set once, together with its hash, and changes only with a new hash
-- (replacePaymentInvoice, whose old hash the payment_hash guard appends to replaced_payment_hashes). A write of
-- another invoice under the same hash (another wallet's, another amount) is refused.
CREATE FUNCTION satoshimachine.payments_bolt11_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.bolt11 IS DISTINCT FROM OLD.bolt11 THEN
    IF NEW.payment_hash IS NULL OR NEW.bolt11 IS NULL THEN
      RAISE EXCEPTION 'payment % : bolt11 and payment_hash are set together', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.bolt11 IS NOT NULL AND NEW.payment_hash IS NOT DISTINCT FROM OLD.payment_hash THEN
      RAISE EXCEPTION 'payment % : the bolt11 of an invoice never changes (replace the invoice, with a new hash)', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
  END IF;
  IF OLD.bolt11 IS NOT NULL AND NEW.payment_hash IS DISTINCT FROM OLD.payment_hash AND NEW.bolt11 IS NOT DISTINCT FROM OLD.bolt11 THEN
    RAISE EXCEPTION 'payment % : a new payment_hash needs its own bolt11', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER payments_bolt11_guard BEFORE UPDATE ON satoshimachine.payments
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.payments_bolt11_guard();

-- Down Migration
DROP TRIGGER IF EXISTS payments_bolt11_guard ON satoshimachine.payments;
DROP FUNCTION IF EXISTS satoshimachine.payments_bolt11_guard();
