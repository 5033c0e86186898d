import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Reads the runbooks in docs/runbooks/ and runs exactly the commands they give, in order, checking
// each against the expectation written next to it. The format is described in docs/runbooks/README.md:
//
// - every fenced block whose info string is exactly `sh` is executed, line by line (a line ending
//   in `\` continues on the next; lines that are only a comment are for the reader);
// - every command ends with a comment stating what it should do, in clauses separated by `;`:
//     `exit N`                 the exit code (required); `exit 0 or 1`: either is right
//     `expect "text"`          stdout or stderr contains the text (JSON string syntax; `$NAME`
//                              is replaced by the variable, as in the command)
//     `expect no "text"`       neither contains it
//     `retry up to N s|min`    run it again every few seconds until the above hold, at most that long
// - `<!-- runbook-test: name -->` marks a step the operator does outside shardsync (start the
//   consumers, bring the brokers back); the test supplies what it means on the local stack;
// - the variables the commands use are the rows of the table under "Before you start", each
//   written as `NAME`; the test sets them as environment variables, as the operator does.

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RUNBOOK_DIR = join(ROOT, 'docs', 'runbooks');

export interface Expectation {
  /** Exit codes that are right (usually one). */
  readonly exit: readonly number[];
  readonly expect: readonly string[];
  readonly expectNo: readonly string[];
  /** Run again until the expectation holds, at most this long. */
  readonly retryMs?: number | undefined;
}

export type RunbookStep =
  | { readonly kind: 'command'; readonly line: number; readonly section: string; readonly command: string; readonly expectation: Expectation }
  | { readonly kind: 'hook'; readonly line: number; readonly section: string; readonly hook: string };

export interface Runbook {
  readonly file: string;
  readonly title: string;
  /** Level-2 headings, in order. */
  readonly sections: readonly string[];
  /** Variables declared in the "Before you start" table. */
  readonly variables: readonly string[];
  readonly steps: readonly RunbookStep[];
}

export class RunbookFormatError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${relative(ROOT, file)}:${line}: ${message}`);
    this.name = 'RunbookFormatError';
  }
}

/** Index of the first `#` that starts a shell comment (outside quotes, after whitespace), or -1. */
function commentStart(line: string): number {
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = undefined;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) return i;
  }
  return -1;
}

const CLAUSES: ReadonlyArray<[RegExp, (m: RegExpExecArray, e: MutableExpectation) => void]> = [
  [/^exit (\d+(?: or \d+)*)$/, (m, e) => void (e.exit = (m[1] ?? '').split(' or ').map(Number))],
  [/^expect no ("(?:[^"\\]|\\.)*")$/, (m, e) => void e.expectNo.push(JSON.parse(m[1] ?? '""') as string)],
  [/^expect ("(?:[^"\\]|\\.)*")$/, (m, e) => void e.expect.push(JSON.parse(m[1] ?? '""') as string)],
  [/^retry up to (\d+) ?(s|min)$/, (m, e) => void (e.retryMs = Number(m[1]) * (m[2] === 'min' ? 60_000 : 1000))],
];

interface MutableExpectation {
  exit?: number[];
  expect: string[];
  expectNo: string[];
  retryMs?: number;
}

/** Splits `exit 1; expect "a; b"` into clauses at the semicolons outside strings. */
function splitClauses(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (inString && c === '\\') {
      current += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') inString = !inString;
    if (c === ';' && !inString) {
      out.push(current.trim());
      current = '';
    } else current += c;
  }
  out.push(current.trim());
  return out.filter((s) => s !== '');
}

export function parseExpectation(comment: string): Expectation | string {
  const e: MutableExpectation = { expect: [], expectNo: [] };
  for (const clause of splitClauses(comment)) {
    const rule = CLAUSES.find(([re]) => re.test(clause));
    if (rule === undefined) return `unknown clause "${clause}" (known: exit N [or M]; expect "text"; expect no "text"; retry up to N s|min)`;
    const [re, apply] = rule;
    const m = re.exec(clause);
    if (m !== null) apply(m, e);
  }
  if (e.exit === undefined) return 'the expectation has no "exit N" clause';
  return { exit: e.exit, expect: e.expect, expectNo: e.expectNo, retryMs: e.retryMs };
}

/** Parses a runbook; throws a `RunbookFormatError` naming the line of any problem. */
export function parseRunbook(file: string): Runbook {
  const lines = readFileSync(file, 'utf8').split('\n');
  let title = '';
  const sections: string[] = [];
  const variables: string[] = [];
  const steps: RunbookStep[] = [];
  let section = '';
  let fence: { info: string; line: number } | undefined;
  let pending: { start: number; text: string[] } | undefined;

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const lineNo = i + 1;
    // Fences may be indented (a block inside a list item).
    const fenceMatch = /^\s*```(.*)$/.exec(raw);
    if (fence === undefined) {
      if (fenceMatch !== null) {
        fence = { info: (fenceMatch[1] ?? '').trim(), line: lineNo };
        continue;
      }
      const heading = /^(#{1,6}) (.*)$/.exec(raw);
      if (heading !== null) {
        const text = (heading[2] ?? '').trim();
        if (heading[1] === '#' && title === '') title = text;
        if (heading[1] === '##') sections.push(text);
        section = text;
        continue;
      }
      const hook = /<!--\s*runbook-test:\s*([a-z0-9-]+)\s*-->/.exec(raw);
      if (hook !== null) steps.push({ kind: 'hook', line: lineNo, section, hook: hook[1] ?? '' });
      if (/^before you start/i.test(section)) {
        const row = /^\|\s*`([A-Z_][A-Z0-9_]*)`\s*\|/.exec(raw);
        if (row !== null) variables.push(row[1] ?? '');
      }
      continue;
    }
    if (fenceMatch !== null && (fenceMatch[1] ?? '').trim() === '') {
      if (pending !== undefined) throw new RunbookFormatError(file, pending.start, 'the block ends inside a command continued with "\\"');
      fence = undefined;
      continue;
    }
    if (fence.info !== 'sh') continue;
    const trimmed = raw.trim();
    if (pending === undefined && (trimmed === '' || trimmed.startsWith('#'))) continue;
    const cut = commentStart(raw);
    const code = (cut === -1 ? raw : raw.slice(0, cut)).trimEnd();
    if (code.endsWith('\\')) {
      if (cut !== -1) throw new RunbookFormatError(file, lineNo, 'a comment on a line continued with "\\"');
      pending ??= { start: lineNo, text: [] };
      pending.text.push(code);
      continue;
    }
    const command = [...(pending?.text ?? []), code].join('\n').trim();
    const start = pending?.start ?? lineNo;
    pending = undefined;
    if (cut === -1) throw new RunbookFormatError(file, lineNo, `the command has no expectation comment (e.g. "# exit 0"): ${command}`);
    const expectation = parseExpectation(raw.slice(cut + 1).trim());
    if (typeof expectation === 'string') throw new RunbookFormatError(file, lineNo, expectation);
    steps.push({ kind: 'command', line: start, section, command, expectation });
  }
  if (fence !== undefined) throw new RunbookFormatError(file, fence.line, 'the code block is never closed');
  if (title === '') throw new RunbookFormatError(file, 1, 'no "# title"');
  return { file, title, sections, variables, steps };
}

/** Variables a command refers to (`$NAME` or `${NAME}`). */
export function variablesOf(command: string): string[] {
  return [...command.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? '');
}

export interface CommandRun {
  readonly file: string;
  readonly line: number;
  readonly command: string;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly attempts: number;
  readonly ms: number;
}

export interface RunOptions {
  /** The runbook's variables (every one it declares, no others) and anything else the commands need. */
  readonly variables: Readonly<Record<string, string>>;
  /** Extra environment of every command (e.g. `SHARDSYNC_RECONCILER_REDIS_PREFIX`); the test's own environment is inherited. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** What each `<!-- runbook-test: name -->` step means here; every hook of the runbook, no others. */
  readonly hooks: Readonly<Record<string, () => Promise<void>>>;
  /** Time allowed for one run of one command. Default 120 s. */
  readonly commandTimeoutMs?: number | undefined;
  /** Called after every command. */
  readonly onCommand?: ((run: CommandRun) => void) | undefined;
}

let shimDir: string | undefined;

/**
 * A directory with a `shardsync` executable that runs the repository's CLI, as `npx shardsync`
 * does from the repository root, so the runbooks' `shardsync ...` lines run unchanged.
 */
export function shardsyncShimDir(): string {
  if (shimDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'shardsync-runbook-bin-'));
    const shim = join(dir, 'shardsync');
    writeFileSync(shim, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'packages/cli/bin/shardsync.js'))} "$@"\n`);
    chmodSync(shim, 0o755);
    shimDir = dir;
  }
  return shimDir;
}

/** The environment commands run in: the test's own, `extra`, and `shardsync` on the PATH. */
export function commandEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  // NO_COLOR: what a terminal-less operator session looks like (no colours, no progress bars).
  return { ...process.env, ...extra, PATH: `${shardsyncShimDir()}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1' };
}

/** Runs a shell command line (bash, pipefail) from the repository root. */
export function runShell(command: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[runbook test: killed after ${timeoutMs} ms]`;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Replaces `$NAME` and `${NAME}` by the runbook's variables, as the shell does in the command. */
export function expandVariables(text: string, variables: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, braced: string | undefined, plain: string | undefined) => variables[braced ?? plain ?? ''] ?? all);
}

/** What is wrong with a command's outcome, or undefined when it matches its expectation. */
function mismatch(e: Expectation, run: { code: number | null; stdout: string; stderr: string }, variables: Readonly<Record<string, string>>): string | undefined {
  const output = `${run.stdout}\n${run.stderr}`;
  const problems: string[] = [];
  if (run.code === null || !e.exit.includes(run.code)) problems.push(`exit ${String(run.code)}, expected ${e.exit.join(' or ')}`);
  for (const text of e.expect.map((t) => expandVariables(t, variables))) if (!output.includes(text)) problems.push(`output lacks ${JSON.stringify(text)}`);
  for (const text of e.expectNo.map((t) => expandVariables(t, variables))) if (output.includes(text)) problems.push(`output contains ${JSON.stringify(text)}`);
  return problems.length === 0 ? undefined : problems.join('; ');
}

/**
 * Runs a runbook's steps in order: each command through `bash -c` from the repository root with
 * the runbook's variables in its environment, checked against its expectation (retried when the
 * runbook says so); each hook through the function given for it. Throws at the first step that
 * does not do what the runbook says, with its output.
 */
export async function runRunbook(runbook: Runbook, options: RunOptions): Promise<CommandRun[]> {
  const where = (line: number) => `${relative(ROOT, runbook.file)}:${line}`;
  const declared = [...runbook.variables].sort();
  const given = Object.keys(options.variables).sort();
  if (JSON.stringify(declared) !== JSON.stringify(given)) {
    throw new Error(`${relative(ROOT, runbook.file)} declares the variables [${declared.join(', ')}] but the test sets [${given.join(', ')}]`);
  }
  const hooksInDoc = runbook.steps.flatMap((s) => (s.kind === 'hook' ? [s.hook] : []));
  const hooksGiven = Object.keys(options.hooks);
  const unknown = hooksInDoc.filter((h) => !hooksGiven.includes(h));
  const unused = hooksGiven.filter((h) => !hooksInDoc.includes(h));
  if (unknown.length > 0 || unused.length > 0) {
    throw new Error(`${relative(ROOT, runbook.file)}: hooks in the runbook without an implementation: [${unknown.join(', ')}]; implemented but not in the runbook: [${unused.join(', ')}]`);
  }

  const env = commandEnv({ ...options.env, ...options.variables });
  const runs: CommandRun[] = [];
  for (const step of runbook.steps) {
    if (step.kind === 'hook') {
      try {
        await options.hooks[step.hook]?.();
      } catch (err) {
        throw new Error(`${where(step.line)}: step "${step.hook}" (${step.section}) failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      continue;
    }
    for (const name of [...variablesOf(step.command), ...[...step.expectation.expect, ...step.expectation.expectNo].flatMap(variablesOf)]) {
      if (!runbook.variables.includes(name)) throw new RunbookFormatError(runbook.file, step.line, `$${name} is not declared under "Before you start"`);
    }
    const started = Date.now();
    const deadline = started + (step.expectation.retryMs ?? 0);
    let attempts = 0;
    let result: { code: number | null; stdout: string; stderr: string };
    let problem: string | undefined;
    for (;;) {
      attempts++;
      result = await runShell(step.command, env, options.commandTimeoutMs ?? 120_000);
      problem = mismatch(step.expectation, result, options.variables);
      if (problem === undefined || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const run: CommandRun = { file: runbook.file, line: step.line, command: step.command, ...result, attempts, ms: Date.now() - started };
    runs.push(run);
    options.onCommand?.(run);
    if (problem !== undefined) {
      throw new Error(
        `${where(step.line)} (${step.section}): \`${step.command}\` did not do what the runbook says: ${problem}` +
          `${attempts > 1 ? ` (after ${attempts} attempts)` : ''}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      );
    }
  }
  return runs;
}
