/** Command line of `npm start` (sandbox/main.ts). */
import { Command, InvalidArgumentError } from 'commander';

export interface MainOptions {
  fresh: boolean;
  dataDir?: string;
  randomPorts: boolean;
  atmInterval: number;
  pollInterval: number;
  sshd: boolean;
  /** LNbits on the sandbox's PostgreSQL instead of SQLite. */
  lnbitsPostgres: boolean;
  verbose: boolean;
  logLevel: string;
  /** Run the sandbox in this process instead of a detached child (tests, debugging). */
  detach: boolean;
}

const nonNegative = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number of seconds`);
  return Number(v);
};
const positive = (name: string) => (v: string) => {
  const n = nonNegative(name)(v);
  if (n === 0) throw new InvalidArgumentError(`${name} must be at least 1`);
  return n;
};

export function parseMainOptions(argv: string[]): MainOptions {
  const program = new Command('npm start --')
    .description(
      'Satoshi Machine on this machine. Without configuration: the whole system with a simulated ATM (the sandbox). ' +
        'With SATMACHINE_CONFIG or deployment variables (LNBITS_URL, LAMASSU_*, TEMPORAL_ADDRESS, …): only the worker.',
    )
    .option('--fresh', 'start over: remove the data earlier runs kept', false)
    .option('--data-dir <dir>', 'where the sandbox keeps its data (default .satmachine/)')
    .option('--ports <fixed|random>', 'fixed: Temporal 7233, Web UI 8233, LNbits 5000; random: free ports', 'fixed')
    .option('--random-ports', 'same as --ports random', false)
    .option('--atm-interval <seconds>', 'seconds between simulated cash-outs (0: none)', nonNegative('--atm-interval'), 8)
    .option('--poll-interval <seconds>', 'seconds between Lamassu polls', positive('--poll-interval'), 5)
    .option('--no-sshd', 'read the simulated Lamassu database directly, without the SSH tunnel')
    .option('--lnbits-postgres', "LNbits keeps its data in the sandbox's PostgreSQL (no single SQLite writer)", false)
    .option('--verbose', 'print every log line to the terminal', false)
    .option('--log-level <level>', 'log level of logs/*.log', 'info')
    .option('--no-detach', 'run the sandbox in this process (Ctrl-C then also reaches its PostgreSQL)')
    .exitOverride()
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ fresh: boolean; dataDir?: string; ports: string; randomPorts: boolean; atmInterval: number; pollInterval: number; sshd: boolean; lnbitsPostgres: boolean; verbose: boolean; logLevel: string; detach: boolean }>();
  if (o.ports !== 'fixed' && o.ports !== 'random') throw new Error('--ports must be fixed or random');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(o.logLevel)) throw new Error('--log-level must be one of fatal, error, warn, info, debug, trace, silent');
  return {
    fresh: o.fresh,
    dataDir: o.dataDir,
    randomPorts: o.randomPorts || o.ports === 'random',
    atmInterval: o.atmInterval,
    pollInterval: o.pollInterval,
    sshd: o.sshd,
    lnbitsPostgres: o.lnbitsPostgres,
    verbose: o.verbose,
    logLevel: o.logLevel,
    detach: o.detach,
  };
}

/** Variables that describe a real deployment; DATABASE_URL alone only gives the sandbox its PostgreSQL. */
const DEPLOYMENT_ENV = /^(SATMACHINE_CONFIG|LNBITS_[A-Z_]+|LAMASSU_[A-Z_]+|TEMPORAL_(ADDRESS|NAMESPACE|TASK_QUEUE|TLS|API_KEY))(_FILE)?$/;

/** The names (never values) of the deployment variables that are set. */
export function deploymentVariables(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((k) => DEPLOYMENT_ENV.test(k) && env[k] !== undefined && env[k] !== '')
    .sort();
}
