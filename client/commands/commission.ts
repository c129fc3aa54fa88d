import type { Command } from 'commander';
import { z } from 'zod';
import { computeCommission, COMMISSION_MODELS, type CommissionModel } from '../../domain/commission';
import { BusinessError } from '../../domain/errors';
import { CliError, EXIT, kv, print } from '../output';

const args = z.object({
  atoms: z.string({ error: '--atoms is required' }).regex(/^\d+$/, '--atoms: expected a whole number of sats'),
  commission: z.string({ error: '--commission is required' }),
  discount: z.string().regex(/^\d+$/, '--discount: expected a whole percent 0-100').optional(),
  fiat: z.string().optional(),
  ticker: z.string().optional(),
  fixedFee: z.string().optional(),
  model: z.enum(COMMISSION_MODELS).default('runbook'),
  json: z.boolean().default(false),
});

/** The runbook's "Manual Spot Check": the exact commission split of one cash-out. */
export function registerCommission(program: Command): void {
  program
    .command('commission')
    .description('exact commission split: base = ROUND(atoms / (1 + effective)), commission = atoms - base')
    .option('--atoms <sats>', 'crypto_atoms: sats the customer sent, commission included')
    .option('--commission <fraction>', 'commission_percentage as a fraction (0.055 = 5.5 %)')
    .option('--discount <percent>', 'discount: integer percent off the commission (0-100)')
    .option('--model <model>', `commission model: ${COMMISSION_MODELS.join(' | ')}`)
    .option('--fiat <amount>', 'fiat dispensed, whole units (lamassu-ticker model)')
    .option('--ticker <price>', 'raw_ticker_price, fiat per coin (lamassu-ticker model)')
    .option('--fixed-fee <amount>', 'fixed_fee, whole fiat units (newer Lamassu servers; needs --fiat)')
    .option('--json', 'print JSON')
    .action((raw: Record<string, unknown>) => {
      const parsed = args.safeParse(raw);
      if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => (i.message.startsWith('--') ? i.message : `--${i.path.join('.')}: ${i.message}`)).join('; '), EXIT.usage);
      const o = parsed.data;
      let result;
      try {
        result = computeCommission(
          { cryptoAtoms: o.atoms, commissionPercentage: o.commission, discount: o.discount ?? null, fiat: o.fiat ?? null, rawTickerPrice: o.ticker ?? null, fixedFee: o.fixedFee ?? null },
          o.model as CommissionModel,
        );
      } catch (err) {
        if (err instanceof BusinessError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
      print(o.json, { cryptoAtoms: Number(o.atoms), ...result }, () =>
        kv([
          ['model', result.model],
          ['crypto atoms', o.atoms],
          ['effective commission', result.effectiveCommission],
          ['base (sats)', result.baseSats],
          ['commission (sats)', result.commissionSats],
          ['fixed fee (sats)', result.fixedFeeSats],
          ['excess (sats)', result.excessSats ? `${result.excessSats} — the commission-free amount exceeds crypto_atoms: base capped, commission 0 (held for the operator when more than Lamassu's 100-sat rounding)` : 0],
        ]),
      );
    });
}
