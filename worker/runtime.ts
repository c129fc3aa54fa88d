import { Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../log/logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

let installed = false;

/**
 * Installs the Temporal Runtime once per process, before any connection: SDK and Core logs go to pino
 * (with its secret redaction), and Core's metrics to a Prometheus endpoint when a port is given.
 * False when a Runtime was already installed (then its metrics settings stay).
 */
export function installRuntime(log: Logger, opts: { metricsPort?: number } = {}): boolean {
  if (installed) return false;
  installed = true;
  const temporalLog = log.child({ component: 'temporal' });
  Runtime.install({
    logger: {
      log: (level: LogLevel, message: string, meta?: LogMetadata) => temporalLog[LEVELS[level]](meta ?? {}, message),
      trace: (message: string, meta?: LogMetadata) => temporalLog.trace(meta ?? {}, message),
      debug: (message: string, meta?: LogMetadata) => temporalLog.debug(meta ?? {}, message),
      info: (message: string, meta?: LogMetadata) => temporalLog.info(meta ?? {}, message),
      warn: (message: string, meta?: LogMetadata) => temporalLog.warn(meta ?? {}, message),
      error: (message: string, meta?: LogMetadata) => temporalLog.error(meta ?? {}, message),
    },
    telemetryOptions: opts.metricsPort
      ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${opts.metricsPort}` } } }
      : undefined,
  });
  return true;
}
