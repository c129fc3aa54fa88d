/** What every benchmark shares: positive-integer flags and the description of the machine it ran on. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function intArg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`--${name}: expected a positive integer`);
  return v;
}

export function machine(): { cpus: number; cpuModel: string; memGiB: number; node: string } {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

export function choiceArg<T extends string>(name: string, choices: readonly T[], def: T): T {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1] as T;
  if (!choices.includes(v)) throw new Error(`--${name}: expected one of ${choices.join(', ')}`);
  return v;
}

/** A process's resident set from /proc (`VmHWM`: its peak, the kernel's high-water mark; `VmRSS`: now), MiB. */
export function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}
