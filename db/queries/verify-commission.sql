-- Commission verification (runbook "Emergency Protocols", scenario 5, Verification Query).
-- The runbook's formula is kept; only names are adapted to this schema:
--   transaction_id → lamassu_id, base_amount → base_sats, commission_amount → commission_sats.
-- Two deliberate additions, both faithful to domain.md §3:
--   * NULL commission_percentage / discount count as 0 (COALESCE); without it such rows would compare with
--     NULL and silently never be reported.
--   * Each row is checked against the model recorded with it: 'runbook' rows with the runbook formula,
--     'lamassu-ticker' rows with ROUND(fiat × 10^8 / raw_ticker_price) (they legitimately differ from the
--     runbook formula by ~0.3 %). Rows without a recorded split are not checked.
--   * EXACT (issue 13): the runbook tolerated ± 1 sat because it rounded base and commission separately
--     (ROUND(a − x) and a − ROUND(x) differ by 1 when x ends in .5). Our split is one rounding: base =
--     ROUND(…), commission = crypto_atoms − base (domain/commission.ts), so any difference is an error.
-- Issue 12: the fixed fee's sats (fixed_fee_sats, newer Lamassu servers) come out of crypto_atoms first, and
-- the base never exceeds what is left (Lamassu's 100-sat rounding, a negative commission: commission 0).
-- Returns one row per transaction whose stored split is wrong: on a correct ledger, no rows.
SELECT
  id,
  lamassu_id,
  commission_model,
  crypto_atoms,
  commission_percentage,
  discount,
  base_sats,
  commission_sats,
  expected_base,
  expected_commission,
  base_sats - expected_base AS base_difference,
  commission_sats - expected_commission AS commission_difference
FROM (
  SELECT
    t.*,
    LEAST(t.crypto_atoms - COALESCE(t.fixed_fee_sats, 0), f.formula_base) AS expected_base,
    t.crypto_atoms - LEAST(t.crypto_atoms - COALESCE(t.fixed_fee_sats, 0), f.formula_base) AS expected_commission
  FROM satoshimachine.lamassu_transactions t
  CROSS JOIN LATERAL (
    SELECT CASE t.commission_model
      WHEN 'lamassu-ticker' THEN ROUND(t.fiat * 100000000 / t.raw_ticker_price)
      ELSE ROUND((t.crypto_atoms - COALESCE(t.fixed_fee_sats, 0)) / (1 + (COALESCE(t.commission_percentage, 0) * (100 - COALESCE(t.discount, 0)) / 100)))
    END AS formula_base
  ) f
  WHERE t.base_sats IS NOT NULL
) checked
WHERE base_sats <> expected_base
   OR commission_sats <> expected_commission
ORDER BY id;
