import type { Spread } from './stats.js';

/** One figure of a scenario, compared with its baseline measured in the same run. */
export interface Figure {
  /** What is compared, e.g. `1 KiB puts/s at 64 concurrent clients`. */
  readonly name: string;
  readonly unit: string;
  readonly shardsync: Spread;
  readonly baseline?: Spread | undefined;
  /** What the baseline is, e.g. `bare kafkajs sendBatch loop`. */
  readonly baselineName?: string | undefined;
  /** shardsync / baseline (or baseline / shardsync for lower-is-better figures), per repetition pair. */
  readonly ratio?: Spread | undefined;
  /** The target on the ratio (or on the absolute figure when there is no baseline). */
  readonly target?: { readonly op: '>=' | '<='; readonly value: number; readonly on: 'ratio' | 'absolute' } | undefined;
  /** Why a miss is a miss: what limits the figure (filled when the target is missed). */
  readonly limitedBy?: string | undefined;
  readonly notes?: string | undefined;
}

/** The result of one scenario. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly title: string;
  readonly repetitions: number;
  readonly durationSeconds: number;
  readonly figures: Figure[];
  /** Free-form measured values kept in the JSON (absolute latencies, CPU seconds, RSS ...). */
  readonly details: Record<string, unknown>;
  /** Set when the scenario could not run (missing tool, failure): the table says so. */
  readonly error?: string | undefined;
}

export type Verdict = 'met' | 'MISS' | 'n/a';

/** Whether a figure meets its target, judged on the median. */
export function verdictOf(f: Figure): Verdict {
  if (f.target === undefined) return 'n/a';
  const v = f.target.on === 'ratio' ? f.ratio?.median : f.shardsync.median;
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  return (f.target.op === '>=' ? v >= f.target.value : v <= f.target.value) ? 'met' : 'MISS';
}
