-- Up Migration
-- Lamassu rows that failed validation, exactly as read. Every rejected row is recorded here once, keyed by
-- its id as text: an id that is not even a uuid cannot go into lamassu_transactions.lamassu_id (uuid), so
-- this table is where such a row is remembered. A rejected row whose id is a uuid is ALSO recorded in
-- lamassu_transactions with status 'rejected' (so the normal "already known" check excludes it forever).
-- A rejected row is never paid; an operator decides what to do with it.

CREATE TABLE satoshimachine.lamassu_rejected_rows (
  raw_id text PRIMARY KEY,
  -- Set when raw_id is a uuid (then lamassu_transactions holds the same id as 'rejected').
  lamassu_id uuid UNIQUE,
  field text NOT NULL CHECK (length(field) > 0),
  reason text NOT NULL CHECK (length(reason) > 0),
  -- Every column of the cash_out_txs row as text (or null), as selected by adapters/lamassu/reader.ts.
  raw jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- When the operator alert was raised: set once, after the alert (a crash in between re-alerts next poll).
  alerted_at timestamptz
);

-- Append-only, except that alerted_at may be set once.
CREATE FUNCTION satoshimachine.lamassu_rejected_rows_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'rejected Lamassu rows are never deleted' USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.raw_id <> OLD.raw_id OR NEW.lamassu_id IS DISTINCT FROM OLD.lamassu_id OR NEW.field <> OLD.field
     OR NEW.reason <> OLD.reason OR NEW.raw <> OLD.raw OR NEW.created_at <> OLD.created_at
     OR (OLD.alerted_at IS NOT NULL AND NEW.alerted_at IS DISTINCT FROM OLD.alerted_at) THEN
    RAISE EXCEPTION 'rejected Lamassu row %: only alerted_at may be set, once', OLD.raw_id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER lamassu_rejected_rows_guard BEFORE UPDATE OR DELETE ON satoshimachine.lamassu_rejected_rows
  FOR EACH ROW EXECUTE FUNCTION satoshimachine.lamassu_rejected_rows_guard();
CREATE INDEX lamassu_rejected_rows_unalerted ON satoshimachine.lamassu_rejected_rows (created_at) WHERE alerted_at IS NULL;

-- Down Migration
DROP TABLE IF EXISTS satoshimachine.lamassu_rejected_rows;
DROP FUNCTION IF EXISTS satoshimachine.lamassu_rejected_rows_guard();
