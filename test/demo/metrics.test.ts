import { describe, expect, it } from 'vitest';
import { datasetDigest } from './inventory.js';
import { consumerProgressOf, histogramQuantile, parsePrometheus } from './metrics.js';

const TEXT = `# HELP shardsync_consumer_events_applied_total Updates applied
# TYPE shardsync_consumer_events_applied_total counter
shardsync_consumer_events_applied_total{operation="put"} 7
shardsync_consumer_events_applied_total{operation="delete"} 3
shardsync_consumer_events_skipped_total{reason="stale"} 2
shardsync_consumer_bytes_applied_total 4096
shardsync_consumer_offset_lag_events{partition="0"} 1
shardsync_consumer_offset_lag_events{partition="1"} 4
shardsync_consumer_apply_seconds_bucket{le="0.01",operation="put"} 50
shardsync_consumer_apply_seconds_bucket{le="0.1",operation="put"} 100
shardsync_consumer_apply_seconds_bucket{le="+Inf",operation="put"} 100
`;

describe('reading the consumers /metrics', () => {
  it('sums counters over their labels into one progress record', () => {
    const p = consumerProgressOf(parsePrometheus(TEXT), 1);
    expect(p).toMatchObject({ applied: 10, skipped: 2, deadLettered: 0, handled: 12, bytes: 4096, lag: 5 });
  });

  it('estimates a histogram quantile inside its bucket, as histogram_quantile does', () => {
    const m = parsePrometheus(TEXT);
    expect(histogramQuantile(m, 'shardsync_consumer_apply_seconds', 0.5)).toBeCloseTo(0.01);
    expect(histogramQuantile(m, 'shardsync_consumer_apply_seconds', 0.75)).toBeCloseTo(0.055);
    expect(histogramQuantile(m, 'shardsync_missing', 0.5)).toBeNaN();
  });
});

describe('dataset digest', () => {
  it('is the same whatever order the objects were listed in, and changes with one byte of one object', () => {
    const a = new Map([['models/b', '02'], ['models/a', '01']]);
    const b = new Map([['models/a', '01'], ['models/b', '02']]);
    expect(datasetDigest(a)).toBe(datasetDigest(b));
    expect(datasetDigest(new Map([['models/a', '01'], ['models/b', '03']]))).not.toBe(datasetDigest(a));
  });
});
