/** Reads the services' Prometheus `/metrics` pages: what the live progress and the bench poll. */

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus text format -> samples by metric name (histograms keep their `_bucket`/`_sum`/`_count` names). */
export function parsePrometheus(text: string): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const [, name = '', rawLabels, rawValue = ''] = m;
    const labels: Record<string, string> = {};
    for (const l of (rawLabels ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    }
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    const list = out.get(name) ?? [];
    list.push({ labels, value });
    out.set(name, list);
  }
  return out;
}

/** Sum of a metric over every label combination (0 when absent). */
export function total(metrics: ReadonlyMap<string, readonly Sample[]>, name: string, filter: (labels: Readonly<Record<string, string>>) => boolean = () => true): number {
  return (metrics.get(name) ?? []).filter((s) => filter(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

/** One consumer's counters at one moment. */
export interface ConsumerProgress {
  readonly atMs: number;
  readonly applied: number;
  readonly skipped: number;
  readonly deadLettered: number;
  /** Events counted either way: applied, skipped or dead-lettered. */
  readonly handled: number;
  readonly bytes: number;
  /** Events behind the high watermark over all partitions, after the last batch. */
  readonly lag: number;
  readonly retries: number;
  readonly stalled: boolean;
  /** Process resident memory, from the default metrics. */
  readonly rssBytes: number;
}

export async function fetchMetrics(baseUrl: string, timeoutMs = 3_000): Promise<Map<string, Sample[]>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

export function consumerProgressOf(m: ReadonlyMap<string, readonly Sample[]>, atMs = Date.now()): ConsumerProgress {
  const applied = total(m, 'shardsync_consumer_events_applied_total');
  const skipped = total(m, 'shardsync_consumer_events_skipped_total');
  const deadLettered = total(m, 'shardsync_consumer_events_dead_lettered_total');
  return {
    atMs,
    applied,
    skipped,
    deadLettered,
    handled: applied + skipped + deadLettered,
    bytes: total(m, 'shardsync_consumer_bytes_applied_total'),
    lag: total(m, 'shardsync_consumer_offset_lag_events'),
    retries: total(m, 'shardsync_consumer_apply_retries_total'),
    stalled: total(m, 'shardsync_consumer_stalled') > 0,
    rssBytes: total(m, 'shardsync_consumer_process_resident_memory_bytes'),
  };
}

/** A consumer's progress, or undefined when its /metrics does not answer right now. */
export async function readConsumerProgress(baseUrl: string): Promise<ConsumerProgress | undefined> {
  try {
    return consumerProgressOf(await fetchMetrics(baseUrl));
  } catch {
    return undefined;
  }
}

/**
 * Estimates the q-quantile (0..1) of a Prometheus histogram summed over its label sets, by linear
 * interpolation inside the bucket that holds it (as PromQL's histogram_quantile). NaN when empty.
 */
export function histogramQuantile(metrics: ReadonlyMap<string, readonly Sample[]>, name: string, q: number): number {
  const byLe = new Map<number, number>();
  for (const s of metrics.get(`${name}_bucket`) ?? []) {
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe].sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count === 0) return NaN;
  const rank = q * count;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of buckets) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1e-9, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
