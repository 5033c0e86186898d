import { describe, expect, it } from 'vitest';
import { IndexLoads } from '../src/state/index-loads.js';

/** A load that runs until it is told how to end, or until its signal aborts. */
class ControlledLoad {
  readonly signal: AbortSignal;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;

  constructor(signal: AbortSignal) {
    this.signal = signal;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      signal.addEventListener('abort', () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')), { once: true });
    });
  }
}

function loadsRecorded(): { loads: ControlledLoad[]; indexLoads: IndexLoads } {
  const loads: ControlledLoad[] = [];
  const indexLoads = new IndexLoads((signal) => {
    const load = new ControlledLoad(signal);
    loads.push(load);
    return load.done;
  });
  return { loads, indexLoads };
}

describe('IndexLoads', () => {
  it('a new assignment cancels the load still retrying from the one before, so rebalances against a store that is down do not pile up retry loops', () => {
    const { loads, indexLoads } = loadsRecorded();
    indexLoads.restart();
    indexLoads.restart();
    indexLoads.restart();
    expect(loads).toHaveLength(3);
    expect(loads.map((l) => l.signal.aborted)).toEqual([true, true, false]);
  });

  it('a batch waiting on a load that a newer assignment cancelled waits for the newer load instead of failing', async () => {
    const { loads, indexLoads } = loadsRecorded();
    indexLoads.restart();
    let settled: 'loaded' | Error | undefined;
    const waiting = indexLoads.loaded().then(
      () => (settled = 'loaded'),
      (err: Error) => (settled = err),
    );
    indexLoads.restart();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBeUndefined();
    loads[1]?.resolve();
    await waiting;
    expect(settled).toBe('loaded');
  });

  it('a batch waiting on a superseded load that still completes (its listing was already running) waits for the newer load too', async () => {
    // retry() lets an attempt in flight finish when its signal aborts: a cancelled load can resolve.
    // Its listing is discarded by the index (an older generation), so it proves nothing loaded.
    const resolvers: Array<() => void> = [];
    const indexLoads = new IndexLoads(() => new Promise<void>((resolve) => resolvers.push(resolve)));
    indexLoads.restart();
    let settled = false;
    const waiting = indexLoads.loaded().then(() => (settled = true));
    indexLoads.restart();
    resolvers[0]?.();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    resolvers[1]?.();
    await waiting;
    expect(settled).toBe(true);
  });

  it('a load that failed for good fails the batch waiting on it, and the next batch starts a load of its own', async () => {
    const { loads, indexLoads } = loadsRecorded();
    indexLoads.restart();
    const first = indexLoads.loaded();
    loads[0]?.reject(new Error('bucket missing'));
    await expect(first).rejects.toThrow('bucket missing');
    const second = indexLoads.loaded();
    expect(loads).toHaveLength(2);
    loads[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });

  it('batches after a load finished do not load again until the next assignment', async () => {
    const { loads, indexLoads } = loadsRecorded();
    const first = indexLoads.loaded();
    loads[0]?.resolve();
    await first;
    await indexLoads.loaded();
    await indexLoads.loaded();
    expect(loads).toHaveLength(1);
    indexLoads.restart();
    expect(loads).toHaveLength(2);
  });

  it('the service closing cancels the running load, and a load asked for afterwards starts cancelled', () => {
    const loads: ControlledLoad[] = [];
    const closing = new AbortController();
    const indexLoads = new IndexLoads((signal) => {
      const load = new ControlledLoad(signal);
      loads.push(load);
      return load.done;
    }, closing.signal);
    indexLoads.restart();
    closing.abort(new Error('closing'));
    indexLoads.restart();
    expect(loads.map((l) => l.signal.aborted)).toEqual([true, true]);
  });
});
