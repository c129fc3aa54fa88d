-- Newer lamassu-server versions (after v10.0.3) add a cash-out fixed fee. The machine folds the fee into
-- crypto_atoms; Satoshi Machine takes it out again as operator revenue (domain/commission.ts).
ALTER TABLE cash_out_txs ADD COLUMN fixed_fee numeric(14, 5) NOT NULL DEFAULT 0;
ALTER TABLE cash_out_txs ADD COLUMN fixed_fee_crypto numeric(30) NOT NULL DEFAULT 0;
