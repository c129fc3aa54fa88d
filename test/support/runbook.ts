/**
 * docs/runbook.md as a test script. Fenced blocks tagged ```bash test=<name> are the scenario procedures: each
 * line is one command as the operator types it (`npx satmachine …`, `.tools/temporal/bin/temporal … --address
 * localhost:7233`), with an optional expectation in its comment: `# → exit 1 · prints "balance-mismatch"`
 * (default: exit 0). `a && b` runs b only after a exited 0. Placeholders (<lamassu-id>, <client>, …) are filled
 * by the test. Every other `npx satmachine` line of the runbook is checked against the CLI (command and options
 * exist), so no documented command can silently rot.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../client/cli';
import { repoRoot } from '../../config/load';
import { runCli, type CliResult } from './cli';

export const RUNBOOK_PATH = path.join(repoRoot, 'docs', 'runbook.md');

export interface RunbookStep {
  /** The line as written (for messages). */
  line: string;
  /** The commands joined by `&&`, without the comment. */
  commands: string[];
  expectExit: number;
  expectPrints: string[];
}

export interface RunbookBlock {
  tag: string | null;
  lines: string[];
}

/** Every ```bash block, with its test tag if it has one. */
export function runbookBlocks(markdown = readFileSync(RUNBOOK_PATH, 'utf8')): RunbookBlock[] {
  const blocks: RunbookBlock[] = [];
  let current: RunbookBlock | null = null;
  for (const raw of markdown.split('\n')) {
    const fence = /^```(.*)$/.exec(raw.trim());
    if (fence && current) {
      blocks.push(current);
      current = null;
    } else if (fence) {
      const info = fence[1]!.trim();
      current = info.startsWith('bash') ? { tag: /\btest=(\S+)/.exec(info)?.[1] ?? null, lines: [] } : { tag: '__not-bash__', lines: [] };
    } else if (current) {
      current.lines.push(raw);
    }
  }
  return blocks.filter((b) => b.tag !== '__not-bash__');
}

/** Splits a line into its command part and its comment (a `#` outside quotes, preceded by a space). */
function splitComment(line: string): { code: string; comment: string } {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return { code: line.slice(0, i).trim(), comment: line.slice(i + 1).trim() };
  }
  return { code: line.trim(), comment: '' };
}

export function parseStep(line: string): RunbookStep | null {
  const { code, comment } = splitComment(line);
  if (!code) return null;
  const expect = comment.includes('→') ? comment.slice(comment.indexOf('→') + 1) : '';
  const exit = /\bexit (\d+)/.exec(expect);
  const prints = [...expect.matchAll(/prints "([^"]*)"/g)].map((m) => m[1]!);
  return { line, commands: code.split('&&').map((c) => c.trim()).filter(Boolean), expectExit: exit ? Number(exit[1]) : 0, expectPrints: prints };
}

/** Shell words: spaces separate, '…' and "…" quote (no escapes or expansions: the runbook needs none). */
export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced quote in: ${text}`);
  if (inWord) words.push(word);
  return words;
}

export type Placeholders = Record<string, string | (() => Promise<string>)>;

async function fill(text: string, placeholders: Placeholders): Promise<string> {
  let out = text;
  for (const [name, value] of Object.entries(placeholders)) {
    if (!out.includes(name)) continue;
    out = out.split(name).join(typeof value === 'function' ? await value() : value);
  }
  const left = /<[a-z][a-z-]*>/.exec(out);
  if (left) throw new Error(`runbook placeholder ${left[0]} has no value in this scenario: ${text}`);
  return out;
}

export interface StepRun {
  line: string;
  argv: string[];
  result: CliResult;
}

export interface RunbookEnv {
  /** The CLI's environment (SATMACHINE_CONFIG, …). */
  env: Record<string, string>;
  /** Replaces `localhost:7233` in Temporal CLI lines. */
  temporalAddress: string;
  temporalCliPath: string;
  /** Relative paths in commands (`--out ./incident`) are made relative to this folder. */
  scratchDir?: string;
}

function runTemporalCli(cliPath: string, argv: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(cliPath, argv, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
}

/** Runs one command of a runbook line. */
async function runCommand(command: string, rb: RunbookEnv, placeholders: Placeholders): Promise<{ argv: string[]; result: CliResult }> {
  const words = shellWords(await fill(command, placeholders));
  if (words[0] === 'npx' && words[1] === 'satmachine') {
    const argv = words.slice(2).map((w) => (rb.scratchDir && w.startsWith('./') ? path.join(rb.scratchDir, w) : w));
    return { argv, result: await runCli(argv, rb.env) };
  }
  if (words[0] === '.tools/temporal/bin/temporal') {
    const argv = words.slice(1).map((w) => (w === 'localhost:7233' ? rb.temporalAddress : w));
    return { argv, result: await runTemporalCli(rb.temporalCliPath, argv) };
  }
  throw new Error(`the runbook test runs only \`npx satmachine …\` and \`.tools/temporal/bin/temporal …\`; got: ${command}`);
}

/**
 * Runs a tagged block line by line and checks each line's expectation; throws naming the line, its exit code
 * and output on the first mismatch. Returns what ran.
 */
export async function runBlock(tag: string, rb: RunbookEnv, placeholders: Placeholders, markdown?: string): Promise<StepRun[]> {
  const block = runbookBlocks(markdown).find((b) => b.tag === tag);
  if (!block) throw new Error(`docs/runbook.md has no block tagged test=${tag}`);
  const runs: StepRun[] = [];
  for (const line of block.lines) {
    const step = parseStep(line);
    if (!step) continue;
    for (let i = 0; i < step.commands.length; i++) {
      const last = i === step.commands.length - 1;
      const { argv, result } = await runCommand(step.commands[i]!, rb, placeholders);
      runs.push({ line, argv, result });
      const want = last ? step.expectExit : 0;
      const out = `${result.stdout}\n${result.stderr}`;
      const show = () => `runbook ${tag}: \`${step.commands[i]}\`\nexit ${result.code}\nstdout: ${result.stdout.slice(0, 3000)}\nstderr: ${result.stderr.slice(0, 2000)}`;
      if (result.code !== want) throw new Error(`expected exit ${want}, got ${result.code} — ${show()}`);
      if (last) for (const p of step.expectPrints) if (!out.includes(p)) throw new Error(`expected the output to contain "${p}" — ${show()}`);
    }
  }
  return runs;
}

/** Every `npx satmachine …` command of the runbook, as words (placeholders kept). */
export function documentedSatmachineCommands(markdown = readFileSync(RUNBOOK_PATH, 'utf8')): string[][] {
  const out: string[][] = [];
  for (const block of runbookBlocks(markdown)) {
    for (const line of block.lines) {
      const step = parseStep(line);
      for (const c of step?.commands ?? []) {
        const words = shellWords(c);
        if (words[0] === 'npx' && words[1] === 'satmachine') out.push(words.slice(2));
      }
    }
  }
  return out;
}

/** Problems of one documented command against the CLI: an unknown (sub)command or option. */
export function checkAgainstCli(words: string[]): string | null {
  let cmd: Command = buildProgram();
  let i = 0;
  while (i < words.length && !words[i]!.startsWith('-')) {
    const sub = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!sub) break;
    cmd = sub;
    i++;
  }
  if (i === 0 && words.length > 0 && !words[0]!.startsWith('-')) return `unknown command "${words[0]}"`;
  const known = new Set(cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]).concat(['--help', '-h']));
  for (const w of words.slice(i)) {
    if (!w.startsWith('--')) continue;
    const flag = w.split('=')[0]!;
    if (!known.has(flag)) return `\`satmachine ${words.slice(0, i).join(' ')}\` has no option ${flag}`;
  }
  return null;
}
