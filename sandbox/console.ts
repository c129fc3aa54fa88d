/**
 * The web console in the sandbox process, on 127.0.0.1:8080 (or a free port when 8080 is taken or the
 * sandbox uses random ports), logged in as the sandbox's operator.
 */
import type { Config } from '../config/schema';
import { startConsole, type RunningConsole } from '../console/main';

export const SANDBOX_CONSOLE_PORT = 8080;
export const SANDBOX_OPERATOR = 'operator';

export async function startSandboxConsole(config: Config): Promise<RunningConsole & { stop: () => Promise<void> }> {
  let running: RunningConsole;
  try {
    running = await startConsole(config);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    running = await startConsole({ ...config, console: { ...config.console, port: 0 } });
  }
  return { ...running, stop: () => running.close() };
}
