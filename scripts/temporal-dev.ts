/** `npm run temporal`: the Temporal dev server (gRPC 7233, Web UI 8233) as temporal-dev.yaml describes it. */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config/load';
import { devServerArgs, loadTemporalDev, toolPaths } from '../config/temporal-dev';

const dev = loadTemporalDev();
const args = ['server', 'start-dev', '--ip', dev.ip, '--port', String(dev.port), '--ui-port', String(dev.uiPort), '--namespace', dev.namespace];
if (dev.dbFilename) {
  const db = path.resolve(repoRoot, dev.dbFilename);
  mkdirSync(path.dirname(db), { recursive: true });
  args.push('--db-filename', db);
}
args.push(...devServerArgs(dev));
console.log(`temporal ${args.join(' ')}\nWeb UI: http://localhost:${dev.uiPort}`);
const child = spawn(toolPaths().temporalCli, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
