import { Context } from '@temporalio/activity';

/**
 * Heartbeats every second while `fn` runs (the SDK throttles what it sends to the server). An activity
 * scheduled with a heartbeatTimeout is then retried that many seconds after its worker died, instead of
 * after its startToCloseTimeout: a SIGKILLed worker must not hold a payout or the poller for minutes.
 * Called outside an activity (tests, the CLI calling the function directly), it only runs `fn`.
 */
export async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return fn();
  }
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

type AsyncFns = Record<string, (...args: never[]) => Promise<unknown>>;

/** Every activity of `activities` heartbeating while it runs (withHeartbeat), same names and types. */
export function heartbeating<T extends AsyncFns>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) out[name] = (...args: never[]) => withHeartbeat(() => fn(...args));
  return out as T;
}
