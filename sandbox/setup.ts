/** The sandbox's setup step: `runSetup` (client/setup.ts) — migrations, search attributes, schedules, poller. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config/schema';
import type { Logger } from '../log/logger';
import { runSetup } from '../client/setup';

export async function runSandboxSetup(client: Client, config: Config, log: Logger): Promise<string> {
  const r = await runSetup(config, log, { client });
  const schedules = r.schedules.map((s) => `${s.scheduleId.replace(/^satmachine-/, '')} ${s.spec}`).join(', ');
  const poller = r.poller.outcome === 'started' ? 'started' : 'already running';
  return `setup: schedules (${schedules}); Lamassu poller ${poller} (every ${config.lamassu.pollIntervalSeconds} s)`;
}
