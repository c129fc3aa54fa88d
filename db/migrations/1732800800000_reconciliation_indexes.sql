-- Up Migration
-- Indexes for the daily reconciliation's passes over payments (issue 15, P3: 1 M payouts in under a second).
-- Both are covering, so each pass is an index-only scan that reads rows already in group order (a streaming
-- GroupAggregate instead of hashing a million rows); autovacuum keeps the visibility map current.
-- Per cash-out and per status: one pass grouped by (transaction_id, status, kind).
CREATE INDEX payments_recon_by_transaction ON satoshimachine.payments (transaction_id, status, kind) INCLUDE (amount_sats, created_at, completed_at);
-- Per client: only the rows whose fiat debit is currently held.
CREATE INDEX payments_recon_held_debit ON satoshimachine.payments (client_id) INCLUDE (fiat_debit_minor) WHERE debit_held;

-- Down Migration
DROP INDEX IF EXISTS satoshimachine.payments_recon_held_debit;
DROP INDEX IF EXISTS satoshimachine.payments_recon_by_transaction;
