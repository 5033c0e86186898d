import { readConsumerProgress, type ConsumerProgress } from './metrics.js';
import { renderTable } from './table.js';
import { formatBytes, formatRate, formatSeconds } from './units.js';
import type { WorkloadStats } from './workload.js';

export interface ProgressOptions {
  /** Datacenter -> base URL of its consumer. */
  readonly consumers: ReadonlyMap<string, string>;
  readonly workload: WorkloadStats;
  readonly out: NodeJS.WriteStream;
  /** Committed-offset lag per datacenter from Kafka (see {@link GroupLag}); without it, the consumers' own gauge. */
  readonly kafkaLag?: ((datacenters: readonly string[]) => Promise<ReadonlyMap<string, number | undefined>>) | undefined;
  /** Poll interval. Default 500 ms on a terminal, 5 s otherwise. */
  readonly intervalMs?: number | undefined;
}

/**
 * Polls every consumer's /metrics and shows per datacenter: events applied (and skipped or
 * dead-lettered), offset lag, bytes written and the write rate. On a terminal the table is
 * redrawn in place; into a file or pipe it prints one line per datacenter every few seconds.
 */
export class ProgressView {
  readonly #options: ProgressOptions;
  readonly #tty: boolean;
  readonly latest = new Map<string, ConsumerProgress>();
  /** Events each datacenter's group has not committed yet (Kafka's view), when known. */
  readonly lag = new Map<string, number>();
  readonly #previous = new Map<string, ConsumerProgress>();
  #timer: NodeJS.Timeout | undefined;
  #drawnLines = 0;
  #polling: Promise<void> | undefined;
  #phase = 'workload';

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#tty = options.out.isTTY === true;
  }

  start(): void {
    const interval = this.#options.intervalMs ?? (this.#tty ? 500 : 5_000);
    this.#timer = setInterval(() => {
      this.#polling ??= this.poll().finally(() => (this.#polling = undefined));
    }, interval);
  }

  /** Names what the run is doing, shown in the header (`workload`, `catching up`). */
  set phase(value: string) {
    this.#phase = value;
  }

  /** Reads every consumer once and redraws. */
  async poll(): Promise<void> {
    const datacenters = [...this.#options.consumers.keys()];
    const lag = this.#options.kafkaLag?.(datacenters).catch(() => undefined);
    await Promise.all(
      [...this.#options.consumers].map(async ([dc, url]) => {
        const p = await readConsumerProgress(url);
        if (p === undefined) return;
        const prev = this.latest.get(dc);
        if (prev !== undefined) this.#previous.set(dc, prev);
        this.latest.set(dc, p);
      }),
    );
    for (const [dc, n] of (await lag) ?? []) {
      if (n === undefined) this.lag.delete(dc);
      else this.lag.set(dc, n);
    }
    this.#draw();
  }

  /** Stops polling; the last drawing stays on screen. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.poll();
    if (this.#tty) this.#drawnLines = 0;
  }

  /** Kafka's committed-offset lag when known, else the consumer's own gauge. */
  lagOf(dc: string): number | undefined {
    return this.lag.get(dc) ?? (this.#options.kafkaLag === undefined ? this.latest.get(dc)?.lag : undefined);
  }

  #rate(dc: string): number {
    const now = this.latest.get(dc);
    const prev = this.#previous.get(dc);
    if (now === undefined || prev === undefined || now.atMs === prev.atMs) return 0;
    return ((now.bytes - prev.bytes) * 1000) / (now.atMs - prev.atMs);
  }

  #draw(): void {
    const w = this.#options.workload;
    const elapsed = (w.finishedAtMs ?? Date.now()) - (w.startedAtMs || Date.now());
    const header = `[${this.#phase}] written: ${w.puts} puts (${w.overwrites} overwrites), ${w.deletes} deletes = ${w.events} events, ${formatBytes(w.bytes)} in ${formatSeconds(elapsed)}${elapsed > 0 ? ` (${formatRate((w.bytes * 1000) / elapsed)})` : ''}`;
    const rows = [...this.#options.consumers.keys()].map((dc) => {
      const p = this.latest.get(dc);
      if (p === undefined) return [dc, '-', '-', '-', '-', '-', '-'];
      const pct = w.events === 0 ? 0 : Math.min(100, Math.floor((p.handled * 100) / w.events));
      return [dc, p.applied, p.skipped + p.deadLettered, this.lagOf(dc) ?? '-', `${pct}%`, formatBytes(p.bytes), formatRate(this.#rate(dc))];
    });
    if (this.#tty) {
      const text = [header, renderTable(['DATACENTER', 'APPLIED', 'SKIPPED+DLQ', 'LAG', 'OF EVENTS', 'BYTES', 'RATE'], rows)].join('\n');
      // Move to the start of the previous drawing and clear to the end of the screen.
      const up = this.#drawnLines > 0 ? `\x1b[${this.#drawnLines}F\x1b[0J` : '';
      this.#options.out.write(`${up}${text}\n`);
      this.#drawnLines = text.split('\n').length;
    } else {
      const lines = rows.map((r) => `  ${r[0]}: applied ${r[1]}, skipped+dlq ${r[2]}, lag ${r[3]}, ${r[4]} of events, ${r[5]}, ${r[6]}`);
      this.#options.out.write(`${header}\n${lines.join('\n')}\n`);
    }
  }
}

/**
 * Waits until every consumer has handled (applied, skipped or dead-lettered) at least `events`
 * events and reports no offset lag. Throws after `timeoutMs` saying who is behind.
 */
export async function waitForCatchUp(view: ProgressView, datacenters: readonly string[], events: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    await view.poll();
    const behind = datacenters.filter((dc) => {
      const p = view.latest.get(dc);
      const lag = view.lagOf(dc);
      return p === undefined || p.handled < events || lag === undefined || lag > 0;
    });
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      const detail = behind.map((dc) => {
        const p = view.latest.get(dc);
        return p === undefined ? `${dc}: /metrics not answering` : `${dc}: handled ${p.handled} of ${events} events, lag ${view.lagOf(dc) ?? 'unknown'}, retries ${p.retries}${p.stalled ? ', STALLED' : ''}`;
      });
      throw new Error(`replication did not catch up within ${formatSeconds(timeoutMs)}:\n  ${detail.join('\n  ')}\nsee the consumer logs`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Waits until Kafka shows no uncommitted event for any of the datacenters' groups. */
export async function waitForNoLag(
  lagOf: (datacenters: readonly string[]) => Promise<ReadonlyMap<string, number | undefined>>,
  datacenters: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: ReadonlyMap<string, number | undefined> = new Map();
  for (;;) {
    signal?.throwIfAborted();
    last = await lagOf(datacenters).catch(() => new Map());
    if (datacenters.every((dc) => last.get(dc) === 0)) return;
    if (Date.now() > deadline) {
      throw new Error(`the consumers did not catch up with the topic within ${formatSeconds(timeoutMs)}: ${datacenters.map((dc) => `${dc} lag ${last.get(dc) ?? 'unknown'}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
