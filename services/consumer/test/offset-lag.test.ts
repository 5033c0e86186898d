import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { ConsumerMetrics } from '../src/metrics.js';
import { OffsetLagReporter, ownedLag } from '../src/offset-lag.js';

type Lags = Array<{ partition: number; lag: number }>;

async function gaugeValues(metrics: ConsumerMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.offsetLag.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.partition), v.value]));
}

function setup(lag: () => Promise<Lags>, assigned: number[] = [0, 1]) {
  const metrics = new ConsumerMetrics();
  const logger = createLogger('test', {}, 'silent');
  const owned = { partitions: assigned };
  const reporter = new OffsetLagReporter({ lag, assigned: () => owned.partitions, gauge: metrics.offsetLag, logger, intervalMs: 5000 });
  return { metrics, logger, owned, reporter };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('OffsetLagReporter', () => {
  it("reports what Kafka says for each owned partition, and follows it while no batch arrives", async () => {
    let lags: Lags = [{ partition: 0, lag: 7 }, { partition: 1, lag: 0 }, { partition: 2, lag: 40 }];
    const { metrics, reporter } = setup(async () => lags);
    await reporter.refresh();
    // Partition 2 belongs to another instance of the group: it reports it, not this one.
    expect(await gaugeValues(metrics)).toEqual({ '0': 7, '1': 0 });
    // Events keep arriving on partition 1 and nothing is committed: no batch needed to see it.
    lags = [{ partition: 0, lag: 0 }, { partition: 1, lag: 12 }, { partition: 2, lag: 40 }];
    await reporter.refresh();
    expect(await gaugeValues(metrics)).toEqual({ '0': 0, '1': 12 });
  });

  it('a partition assigned away is no longer reported', async () => {
    const { metrics, owned, reporter } = setup(async () => [{ partition: 0, lag: 3 }, { partition: 1, lag: 4 }]);
    await reporter.refresh();
    owned.partitions = [1];
    await reporter.refresh();
    expect(await gaugeValues(metrics)).toEqual({ '1': 4 });
  });

  it('keeps the last values while Kafka does not answer, and warns once', async () => {
    let fail = false;
    const { metrics, logger, reporter } = setup(async () => {
      if (fail) throw new Error('Kafka down');
      return [{ partition: 0, lag: 5 }];
    }, [0]);
    const warn = vi.spyOn(logger, 'warn');
    await reporter.refresh();
    fail = true;
    await reporter.refresh();
    await reporter.refresh();
    expect(await gaugeValues(metrics)).toEqual({ '0': 5 });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('a partition assigned away while Kafka does not answer is no longer reported: only the partitions still owned keep their last values', async () => {
    let fail = false;
    const { metrics, owned, reporter } = setup(async () => {
      if (fail) throw new Error('Kafka down');
      return [{ partition: 0, lag: 3 }, { partition: 1, lag: 4 }];
    });
    await reporter.refresh();
    fail = true;
    // A rebalance gives partition 0 to another member, whose gauge now reports it.
    owned.partitions = [1];
    await reporter.refresh();
    expect(await gaugeValues(metrics)).toEqual({ '1': 4 });
    // Losing every partition leaves nothing reported.
    owned.partitions = [];
    await reporter.refresh();
    expect(await gaugeValues(metrics)).toEqual({});
  });

  it('refreshes on its interval until stopped, and stop waits for the refresh in flight', async () => {
    vi.useFakeTimers();
    let calls = 0;
    let answer: (lags: Lags) => void = () => undefined;
    const { metrics, reporter } = setup(() => {
      calls += 1;
      return new Promise<Lags>((resolve) => (answer = resolve));
    }, [0]);
    reporter.start();
    expect(calls).toBe(1);
    answer([{ partition: 0, lag: 1 }]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(2);
    let stopped = false;
    const stopping = reporter.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    answer([{ partition: 0, lag: 2 }]);
    await stopping;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
    // What arrived after stop() was not applied.
    expect(await gaugeValues(metrics)).toEqual({ '0': 1 });
  });
});

describe('ownedLag (what the watchdog waits on)', () => {
  it("counts only this instance's partitions: another member's backlog, or none assigned, is nothing to wait for", () => {
    const lags = [
      { partition: 0, lag: 5 },
      { partition: 1, lag: 0 },
      { partition: 2, lag: 40 },
    ];
    expect(ownedLag(lags, [0, 1])).toBe(5);
    expect(ownedLag(lags, [1])).toBe(0);
    expect(ownedLag(lags, [])).toBe(0);
    expect(ownedLag(lags, [0, 1, 2])).toBe(45);
  });
});
