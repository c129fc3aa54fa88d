-- Up Migration
-- Go-live from the LNbits extension satmachineadmin (issue #17): `satmachine import satmachineadmin`.

-- An imported client whose LNbits wallet could not be resolved has no invoice key yet. It may exist, but only
-- paused (paused clients take no part in cash-outs); `clients set-key` links it, then `clients set-status active`.
ALTER TABLE satoshimachine.clients ALTER COLUMN invoice_key_enc DROP NOT NULL;
ALTER TABLE satoshimachine.clients ADD CONSTRAINT clients_active_has_key CHECK (invoice_key_enc IS NOT NULL OR status <> 'active');

-- Which ledger row each imported row of the old system became. Keyed by the old id: a second import of the
-- same data finds every row here and changes nothing.
CREATE TABLE satoshimachine.legacy_id_map (
  source text NOT NULL CHECK (source IN ('satmachineadmin')),
  kind text NOT NULL CHECK (kind IN ('client', 'deposit')),
  legacy_id text NOT NULL CHECK (length(legacy_id) > 0),
  ledger_id uuid NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, kind, legacy_id),
  UNIQUE (kind, ledger_id)
);
CREATE TRIGGER legacy_id_map_append_only BEFORE UPDATE OR DELETE ON satoshimachine.legacy_id_map
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();

-- The Lamassu cash-outs the old system handled (its lamassu_transactions). The poller counts these ids as
-- known, so a cash-out the old system paid is never paid again, whatever the cut-over time says.
CREATE TABLE satoshimachine.legacy_cashouts (
  lamassu_id uuid PRIMARY KEY,
  source text NOT NULL CHECK (source IN ('satmachineadmin')),
  legacy_id text NOT NULL,
  transaction_time timestamptz NOT NULL,
  crypto_atoms bigint,
  base_sats bigint,
  commission_sats bigint,
  distributed_sats bigint,
  imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER legacy_cashouts_append_only BEFORE UPDATE OR DELETE ON satoshimachine.legacy_cashouts
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.forbid_change();

-- The cut-over stored in the ledger (one row). The poller uses the later of this and config lamassu.payFrom:
-- cash-outs confirmed before it are never fetched. It only ever moves forward (see the import).
CREATE TABLE satoshimachine.cutover (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pay_from timestamptz NOT NULL,
  source text NOT NULL,
  set_by text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE IF EXISTS satoshimachine.cutover;
DROP TABLE IF EXISTS satoshimachine.legacy_cashouts;
DROP TABLE IF EXISTS satoshimachine.legacy_id_map;
ALTER TABLE satoshimachine.clients DROP CONSTRAINT IF EXISTS clients_active_has_key;
ALTER TABLE satoshimachine.clients ALTER COLUMN invoice_key_enc SET NOT NULL;
