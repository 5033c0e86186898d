import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderTable } from '../demo/table.js';
import { verdictOf, type Figure, type ScenarioResult } from './results.js';
import type { Spread } from './stats.js';

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** One `npm run bench` invocation, as written to bench-results/<timestamp>.json. */
export interface BenchRun {
  readonly format: 'shardsync.bench.v1';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly machine: Machine;
  readonly versions: Record<string, string>;
  readonly repetitions: number;
  readonly quick: boolean;
  readonly scenarios: ScenarioResult[];
}

export async function writeRun(repoRoot: string, run: BenchRun): Promise<string> {
  const dir = join(repoRoot, 'bench-results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${run.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}

/** The latest result of every scenario over the runs in bench-results/ (quick runs excluded). */
export async function latestScenarios(repoRoot: string): Promise<Map<string, { result: ScenarioResult; run: BenchRun }>> {
  const dir = join(repoRoot, 'bench-results');
  const out = new Map<string, { result: ScenarioResult; run: BenchRun }>();
  let files: string[] = [];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return out;
  }
  for (const f of files) {
    try {
      const run = JSON.parse(await readFile(join(dir, f), 'utf8')) as BenchRun;
      if (run.format !== 'shardsync.bench.v1' || run.quick) continue;
      for (const result of run.scenarios) if (result.error === undefined) out.set(result.scenario, { result, run });
    } catch {
      // A file that is not a bench run is skipped.
    }
  }
  return out;
}

const fmt = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const spreadText = (s: Spread | undefined, unit = ''): string => (s === undefined || s.n === 0 ? '-' : s.n === 1 ? `${fmt(s.median)}${unit}` : `${fmt(s.median)}${unit} (${fmt(s.min)}–${fmt(s.max)})`);

function targetText(f: Figure): string {
  if (f.target === undefined) return '-';
  return `${f.target.op === '>=' ? '≥' : '≤'} ${f.target.value}${f.target.on === 'absolute' ? ` ${f.unit}` : ''}`;
}

/** The markdown table rows of one scenario. */
export function figureRows(result: ScenarioResult): string[][] {
  if (result.error !== undefined) return [[result.scenario, `not measured: ${result.error}`, '-', '-', '-', '-', '-']];
  return result.figures.map((f) => [
    result.scenario,
    f.name,
    spreadText(f.shardsync, ` ${f.unit}`),
    f.baseline === undefined ? '-' : `${spreadText(f.baseline, ` ${f.unit}`)}<br>${f.baselineName ?? ''}`,
    spreadText(f.ratio),
    targetText(f),
    verdictOf(f) === 'MISS' ? '**MISS**' : verdictOf(f),
  ]);
}

function markdownTable(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

/** BENCHMARKS.md: the latest figure of every scenario, with the machine and run it came from. */
export function renderBenchmarksMd(latest: Map<string, { result: ScenarioResult; run: BenchRun }>, order: readonly string[], extra: string): string {
  const runs = new Map<string, BenchRun>();
  for (const { run } of latest.values()) runs.set(run.startedAt, run);
  const machines = [...runs.values()].map((r) => `- run of ${r.startedAt} (${r.durationSeconds.toFixed(0)} s, ${r.repetitions} repetitions): ${r.machine.cores} cores, ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB memory, Node ${r.machine.node}, ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const rows = order.flatMap((s) => {
    const entry = latest.get(s);
    return entry === undefined ? [[s, 'not run yet', '-', '-', '-', '-', '-']] : figureRows(entry.result);
  });
  const misses = order.flatMap((s) =>
    (latest.get(s)?.result.figures ?? [])
      .filter((f) => verdictOf(f) === 'MISS')
      .map((f) => `- **${s}: ${f.name}** (${spreadText(f.ratio ?? f.shardsync)} against a target of ${targetText(f)}): ${f.limitedBy ?? 'not analysed yet'}`),
  );
  const notes = order.flatMap((s) => (latest.get(s)?.result.figures ?? []).filter((f) => f.notes !== undefined).map((f) => `- ${s}, ${f.name}: ${f.notes}`));
  return [
    '# shardsync benchmarks',
    '',
    'Written by `npm run bench` (all scenarios) or `npm run bench <scenario>` (that one; the others keep',
    'their latest figures). Machine-readable results of every run are in `bench-results/` (not committed).',
    '',
    'Every figure is the median of its repetitions with min–max in brackets. Every ratio compares',
    'shardsync with a baseline measured in the same run on the same machine and the same servers,',
    'repetition by repetition (ratio > 1: shardsync is faster; for latencies the ratio is',
    'shardsync / baseline, lower is better). The servers are the local stack: one Kafka broker and one',
    's3proxy (filesystem) per datacenter, all on this one machine, so every "datacenter link" is',
    'loopback and every store shares the same disk and CPUs.',
    '',
    ...machines,
    '',
    markdownTable(['Scenario', 'Figure', 'shardsync', 'Baseline', 'Ratio', 'Target', 'Verdict'], rows),
    '',
    '## Misses and what limits them',
    '',
    ...(misses.length === 0 ? ['None in the latest results.'] : misses),
    '',
    '## Notes on the figures',
    '',
    ...(notes.length === 0 ? ['-'] : notes),
    '',
    extra,
  ].join('\n');
}

/** A plain-text table of one scenario for the terminal. */
export function renderScenarioText(result: ScenarioResult): string {
  const rows = figureRows(result).map((r) => r.slice(1).map((c) => c.replace(/<br>.*/, '').replace(/\*\*/g, '')));
  return `${result.title} (${result.durationSeconds.toFixed(0)} s)\n${renderTable(['FIGURE', 'SHARDSYNC', 'BASELINE', 'RATIO', 'TARGET', 'VERDICT'], rows)}`;
}

/** The latest CPU profile of each scenario (from `--profile` runs), as a markdown section. */
export async function profileSection(repoRoot: string): Promise<string> {
  const dir = join(repoRoot, 'bench-results');
  const found = new Map<string, { at: string; profile: Record<string, Array<{ where: string; selfPercent: number }>> }>();
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((x) => x.endsWith('.json')).sort()) {
    try {
      const run = JSON.parse(await readFile(join(dir, f), 'utf8')) as BenchRun;
      for (const s of run.scenarios) {
        const profile = s.details['profile'] as Record<string, Array<{ where: string; selfPercent: number }>> | undefined;
        if (profile !== undefined) found.set(s.scenario, { at: run.startedAt, profile });
      }
    } catch {
      // Not a bench run.
    }
  }
  if (found.size === 0) return '';
  const lines = ['## Where the CPU goes', '', 'From the latest `npm run bench -- <scenario> --profile` (V8 CPU profiles of the services, `--quick` sizes; share of', "each role's busy time spent in the function itself; `wrapSafe`/`compileSourceTextModule` are module loading at start).", ''];
  for (const [scenario, { at, profile }] of found) {
    for (const [role, spots] of Object.entries(profile)) {
      if (spots.length === 0) continue;
      lines.push(`- **${scenario} ${role}** (${at}): ${spots.slice(0, 8).map((s) => `${s.where} ${s.selfPercent}%`).join(', ')}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
