-- Up Migration
-- The Satoshi Machine ledger. Money columns are integers: fiat in minor units (bigint), sats (bigint);
-- Lamassu's own numeric columns are kept exactly as received. Every CHECK here is a last line of defence
-- behind the application's validation: the database must refuse a state that loses or invents money.

CREATE SCHEMA IF NOT EXISTS satoshimachine;

-- Shared trigger functions -------------------------------------------------------------------------------

CREATE FUNCTION satoshimachine.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

-- Append-only tables (adjustments, balance_log, operator_events): history is corrected by new rows only.
CREATE FUNCTION satoshimachine.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on satoshimachine.% is forbidden: the table is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;

-- Clients ------------------------------------------------------------------------------------------------

CREATE TABLE satoshimachine.clients (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(btrim(name)) > 0),
  wallet_id text NOT NULL UNIQUE CHECK (length(wallet_id) > 0),
  -- LNbits invoice key, AES-256-GCM under config.encryptionKey (adapters/crypto/secret-box.ts); never plaintext.
  invoice_key_enc text NOT NULL CHECK (invoice_key_enc LIKE 'v1.%'),
  mode text NOT NULL DEFAULT 'flow' CHECK (mode IN ('flow', 'fixed')),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'closed')),
  -- The current balance; its history is balance_log. Never negative.
  remaining_balance_fiat_minor bigint NOT NULL DEFAULT 0 CHECK (remaining_balance_fiat_minor >= 0),
  currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Target of the (client_id, currency) foreign key of deposits: a deposit is in its client's currency.
  UNIQUE (id, currency)
);
CREATE TRIGGER clients_updated_at BEFORE UPDATE ON satoshimachine.clients
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.set_updated_at();

-- Deposits -----------------------------------------------------------------------------------------------

CREATE TABLE satoshimachine.deposits (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id uuid NOT NULL,
  amount_fiat_minor bigint NOT NULL CHECK (amount_fiat_minor > 0),
  currency text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'cancelled')),
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  cancelled_at timestamptz,
  FOREIGN KEY (client_id, currency) REFERENCES satoshimachine.clients (id, currency),
  CHECK ((status = 'confirmed') = (confirmed_at IS NOT NULL)),
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX deposits_client ON satoshimachine.deposits (client_id);

-- pending → confirmed | cancelled, then terminal; confirmed_at is set once; amount and owner never change.
CREATE FUNCTION satoshimachine.deposits_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status = 'confirmed' THEN
      RAISE EXCEPTION 'a confirmed deposit cannot be deleted (use an adjustment)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.client_id <> OLD.client_id OR NEW.amount_fiat_minor <> OLD.amount_fiat_minor OR NEW.currency <> OLD.currency THEN
    RAISE EXCEPTION 'deposit % : client, amount and currency are immutable', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.confirmed_at IS NOT NULL AND NEW.confirmed_at IS DISTINCT FROM OLD.confirmed_at THEN
    RAISE EXCEPTION 'deposit % : confirmed_at is set once', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.status <> 'pending' AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'deposit % : status % is terminal', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER deposits_guard BEFORE UPDATE OR DELETE ON satoshimachine.deposits
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.deposits_guard();

-- Lamassu cash-outs --------------------------------------------------------------------------------------

CREATE TABLE satoshimachine.lamassu_transactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- cash_out_txs.id: one row per Lamassu transaction, ever (runbook scenario 1).
  lamassu_id uuid NOT NULL UNIQUE,
  -- Source fields exactly as received from cash_out_txs (same names; status/error renamed lamassu_*).
  device_id text NOT NULL,
  crypto_atoms numeric(30) NOT NULL CHECK (crypto_atoms >= 0),
  received_crypto_atoms numeric(30),
  crypto_code text NOT NULL,
  fiat numeric(14, 5) NOT NULL CHECK (fiat >= 0),
  fiat_code text NOT NULL,
  commission_percentage numeric(14, 5),
  discount smallint,
  raw_ticker_price numeric(14, 5),
  fixed_fee numeric(14, 5),
  lamassu_status text NOT NULL,
  dispense boolean,
  dispense_confirmed boolean,
  lamassu_error text,
  lamassu_error_code text,
  created timestamptz NOT NULL,
  confirmed_at timestamptz,
  -- Ours: the dispensed fiat in minor units and the commission split, with the model that produced it.
  fiat_minor bigint CHECK (fiat_minor >= 0),
  commission_model text CHECK (commission_model IN ('runbook', 'lamassu-ticker')),
  effective_commission numeric CHECK (effective_commission >= 0 AND effective_commission < 1),
  base_sats bigint CHECK (base_sats >= 0),
  commission_sats bigint CHECK (commission_sats >= 0),
  -- Part of base_sats not covered by client balances: the operator's, recorded so no sat goes unaccounted.
  unallocated_sats bigint CHECK (unallocated_sats >= 0 AND unallocated_sats <= base_sats),
  status text NOT NULL DEFAULT 'received'
    CHECK (status IN ('received', 'processing', 'completed', 'failed', 'needs_attention', 'rejected')),
  error text,
  rejected_field text,
  workflow_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- The commission split is all-or-nothing and conserves the customer's sats.
  CHECK ((commission_model IS NULL) = (base_sats IS NULL)
     AND (base_sats IS NULL) = (commission_sats IS NULL)
     AND (base_sats IS NULL) = (effective_commission IS NULL)),
  CHECK (base_sats IS NULL OR base_sats + commission_sats = crypto_atoms),
  CHECK (status <> 'rejected' OR rejected_field IS NOT NULL OR error IS NOT NULL)
);
CREATE INDEX lamassu_transactions_status ON satoshimachine.lamassu_transactions (status);
CREATE INDEX lamassu_transactions_confirmed_at ON satoshimachine.lamassu_transactions (confirmed_at);
CREATE TRIGGER lamassu_transactions_updated_at BEFORE UPDATE ON satoshimachine.lamassu_transactions
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.set_updated_at();

-- Payments -----------------------------------------------------------------------------------------------

CREATE TABLE satoshimachine.payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transaction_id uuid NOT NULL REFERENCES satoshimachine.lamassu_transactions (id),
  client_id uuid REFERENCES satoshimachine.clients (id),
  kind text NOT NULL CHECK (kind IN ('client', 'commission')),
  amount_sats bigint NOT NULL,
  -- The client's fiat debit that bought amount_sats (0 for the commission).
  fiat_debit_minor bigint NOT NULL DEFAULT 0 CHECK (fiat_debit_minor >= 0),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed', 'cancelled')),
  payment_hash text UNIQUE,
  bolt11 text,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  CHECK ((kind = 'client') = (client_id IS NOT NULL)),
  CHECK (kind = 'client' OR fiat_debit_minor = 0),
  -- amount_sats > 0, except a client's "dust" line: a debit worth < 1 sat after largest-remainder rounding.
  -- Such a row records the debit, has nothing to send, and is completed at birth (never pending).
  CHECK (amount_sats > 0 OR (kind = 'client' AND amount_sats = 0 AND fiat_debit_minor > 0 AND status = 'completed')),
  CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
  -- One payout per client per cash-out (NULL client_id of commission rows is covered by the index below).
  UNIQUE (transaction_id, client_id)
);
CREATE UNIQUE INDEX payments_one_commission_per_transaction ON satoshimachine.payments (transaction_id) WHERE kind = 'commission';
CREATE INDEX payments_client ON satoshimachine.payments (client_id);
CREATE INDEX payments_open ON satoshimachine.payments (status, created_at) WHERE status IN ('pending', 'failed');

-- pending ⇄ failed (retries) → completed | cancelled; completed and cancelled are terminal; what was
-- reserved (amounts, owner, kind) never changes.
CREATE FUNCTION satoshimachine.payments_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'payments are never deleted (cancel them)' USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.transaction_id <> OLD.transaction_id OR NEW.client_id IS DISTINCT FROM OLD.client_id OR NEW.kind <> OLD.kind
     OR NEW.amount_sats <> OLD.amount_sats OR NEW.fiat_debit_minor <> OLD.fiat_debit_minor THEN
    RAISE EXCEPTION 'payment % : transaction, client, kind and amounts are immutable', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.status IN ('completed', 'cancelled') AND NEW.status <> OLD.status THEN
    RAISE EXCEPTION 'payment % : status % is terminal', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER payments_guard BEFORE UPDATE OR DELETE ON satoshimachine.payments
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.payments_guard();

-- Adjustments (operator corrections, append-only) -----------------------------------------------------------

CREATE TABLE satoshimachine.adjustments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id uuid NOT NULL REFERENCES satoshimachine.clients (id),
  amount_fiat_minor bigint NOT NULL CHECK (amount_fiat_minor <> 0),
  reason text NOT NULL CHECK (length(btrim(reason)) > 0),
  note text,
  actor text NOT NULL CHECK (length(btrim(actor)) > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX adjustments_client ON satoshimachine.adjustments (client_id);
CREATE TRIGGER adjustments_append_only BEFORE UPDATE OR DELETE ON satoshimachine.adjustments
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();
CREATE TRIGGER adjustments_no_truncate BEFORE TRUNCATE ON satoshimachine.adjustments
  FOR EACH STATEMENT EXECUTE FUNCTION satoshimachine.forbid_change();

-- Balance log: every change of clients.remaining_balance_fiat_minor ------------------------------------------

CREATE TABLE satoshimachine.balance_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  client_id uuid NOT NULL REFERENCES satoshimachine.clients (id),
  before_fiat_minor bigint NOT NULL CHECK (before_fiat_minor >= 0),
  after_fiat_minor bigint NOT NULL CHECK (after_fiat_minor >= 0),
  delta_fiat_minor bigint NOT NULL CHECK (delta_fiat_minor <> 0),
  reason text NOT NULL CHECK (reason IN ('deposit_confirmed', 'payout_reserved', 'payout_released', 'adjustment')),
  deposit_id uuid REFERENCES satoshimachine.deposits (id),
  payment_id uuid REFERENCES satoshimachine.payments (id),
  adjustment_id uuid REFERENCES satoshimachine.adjustments (id),
  -- clock_timestamp(): written after the client row lock, so per client `at` follows the chain order.
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (after_fiat_minor = before_fiat_minor + delta_fiat_minor),
  CHECK (num_nonnulls(deposit_id, payment_id, adjustment_id) = 1),
  CHECK (CASE reason
           WHEN 'deposit_confirmed' THEN deposit_id IS NOT NULL AND delta_fiat_minor > 0
           WHEN 'payout_reserved' THEN payment_id IS NOT NULL AND delta_fiat_minor < 0
           WHEN 'payout_released' THEN payment_id IS NOT NULL AND delta_fiat_minor > 0
           ELSE adjustment_id IS NOT NULL
         END)
);
CREATE INDEX balance_log_client_at ON satoshimachine.balance_log (client_id, at);
-- Each source changes a balance at most once: the database enforces the idempotency of every operation.
CREATE UNIQUE INDEX balance_log_once_per_deposit ON satoshimachine.balance_log (deposit_id) WHERE deposit_id IS NOT NULL;
CREATE UNIQUE INDEX balance_log_once_per_adjustment ON satoshimachine.balance_log (adjustment_id) WHERE adjustment_id IS NOT NULL;
CREATE UNIQUE INDEX balance_log_once_per_payment_reason ON satoshimachine.balance_log (payment_id, reason) WHERE payment_id IS NOT NULL;
CREATE TRIGGER balance_log_append_only BEFORE UPDATE OR DELETE ON satoshimachine.balance_log
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();
CREATE TRIGGER balance_log_no_truncate BEFORE TRUNCATE ON satoshimachine.balance_log
  FOR EACH STATEMENT EXECUTE FUNCTION satoshimachine.forbid_change();

-- Alerts -------------------------------------------------------------------------------------------------

CREATE TABLE satoshimachine.alerts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  severity text NOT NULL CHECK (severity IN ('info', 'medium', 'high', 'critical')),
  kind text NOT NULL,
  dedup_key text NOT NULL,
  message text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by text
);
CREATE INDEX alerts_dedup ON satoshimachine.alerts (dedup_key, created_at DESC);
CREATE INDEX alerts_open ON satoshimachine.alerts (created_at DESC) WHERE acknowledged_at IS NULL;

-- Operator control (one row) and its audit trail ----------------------------------------------------------

CREATE TABLE satoshimachine.control (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  payouts_halted boolean NOT NULL DEFAULT false,
  halted_reason text,
  halted_by text,
  halted_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT payouts_halted OR (halted_reason IS NOT NULL AND halted_by IS NOT NULL AND halted_at IS NOT NULL))
);
INSERT INTO satoshimachine.control DEFAULT VALUES;
CREATE TRIGGER control_updated_at BEFORE UPDATE ON satoshimachine.control
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.set_updated_at();

CREATE TABLE satoshimachine.operator_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor text NOT NULL,
  action text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER operator_events_append_only BEFORE UPDATE OR DELETE ON satoshimachine.operator_events
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();

-- Funding credits (fundingMode superuser-credit): written 'pending' before the LNbits call, 'done' after ---

CREATE TABLE satoshimachine.funding_credits (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transaction_id uuid NOT NULL UNIQUE REFERENCES satoshimachine.lamassu_transactions (id),
  wallet_id text NOT NULL,
  amount_sats bigint NOT NULL CHECK (amount_sats > 0),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz,
  CHECK ((status = 'done') = (done_at IS NOT NULL))
);
CREATE TRIGGER funding_credits_updated_at BEFORE UPDATE ON satoshimachine.funding_credits
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.set_updated_at();

-- Down Migration
DROP TABLE IF EXISTS satoshimachine.funding_credits;
DROP TABLE IF EXISTS satoshimachine.operator_events;
DROP TABLE IF EXISTS satoshimachine.control;
DROP TABLE IF EXISTS satoshimachine.alerts;
DROP TABLE IF EXISTS satoshimachine.balance_log;
DROP TABLE IF EXISTS satoshimachine.adjustments;
DROP TABLE IF EXISTS satoshimachine.payments;
DROP TABLE IF EXISTS satoshimachine.lamassu_transactions;
DROP TABLE IF EXISTS satoshimachine.deposits;
DROP TABLE IF EXISTS satoshimachine.clients;
DROP FUNCTION IF EXISTS satoshimachine.payments_guard();
DROP FUNCTION IF EXISTS satoshimachine.deposits_guard();
DROP FUNCTION IF EXISTS satoshimachine.forbid_change();
DROP FUNCTION IF EXISTS satoshimachine.set_updated_at();
