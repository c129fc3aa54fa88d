import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { repoRoot, describeZodError, ConfigError } from './load';

/** temporal-dev.yaml: the local dev server's description, shared by `npm run temporal` and the test harness. */
const saType = z.enum(['Keyword', 'Int', 'Text', 'Bool', 'Datetime', 'Double', 'KeywordList']);
export const temporalDevSchema = z.object({
  ip: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(7233),
  uiPort: z.number().int().min(1).max(65535).default(8233),
  namespace: z.string().min(1).default('default'),
  dbFilename: z.string().min(1).optional(),
  searchAttributes: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), saType).default({}),
  dynamicConfig: z.record(z.string(), z.unknown()).default({}),
});
export type TemporalDevConfig = z.infer<typeof temporalDevSchema>;

export function loadTemporalDev(file = path.join(repoRoot, 'temporal-dev.yaml')): TemporalDevConfig {
  const parsed = temporalDevSchema.safeParse(YAML.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new ConfigError(`temporal-dev.yaml: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** `--search-attribute` and `--dynamic-config-value` arguments for `temporal server start-dev`. */
export function devServerArgs(dev: TemporalDevConfig): string[] {
  return [
    ...Object.entries(dev.searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...Object.entries(dev.dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
  ];
}

/** The tools folder of scripts/bootstrap.sh: $SATMACHINE_TOOLS_DIR, else the clone's .tools/. */
export function toolsDir(): string {
  return process.env.SATMACHINE_TOOLS_DIR || path.join(repoRoot, '.tools');
}

/** Paths of the tools chosen by scripts/bootstrap.sh (its env.json). */
export function toolPaths(): { temporalCli: string; lnbits: string; sshd: string } {
  const file = path.join(toolsDir(), 'env.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { temporalCli: string; lnbits: string; sshd: string };
  } catch {
    throw new ConfigError(`${file} is missing: run \`npm run bootstrap\` (scripts/bootstrap.sh) first`);
  }
}
