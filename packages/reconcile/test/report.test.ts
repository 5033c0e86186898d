import { describe, expect, it } from 'vitest';
import { hasRetriableFailure, InvalidPassReportError, lastPassSummary, mergeRetriedOutcome, parsePassReport, recentPasses, recordPass, renderPassReport, runPass, type PassHistoryRedis } from '../src/index.js';
import { deleteObject, MemoryStores, passOptions, putByHand, putEverywhere, putObject, v } from './helpers.js';

/** The three list commands the history uses, over a Map: enough to test the format without a server. */
class FakeRedis implements PassHistoryRedis {
  readonly lists = new Map<string, string[]>();
  async lpush(key: string, ...values: string[]): Promise<number> {
    const list = this.lists.get(key) ?? [];
    list.unshift(...values.reverse());
    this.lists.set(key, list);
    return list.length;
  }
  async ltrim(key: string, start: number, stop: number): Promise<unknown> {
    this.lists.set(key, (this.lists.get(key) ?? []).slice(start, stop + 1));
    return 'OK';
  }
  async lrange(key: string, start: number, stop: number): Promise<string[]> {
    return (this.lists.get(key) ?? []).slice(start, stop + 1);
  }
}

async function divergentReport() {
  const stores = new MemoryStores();
  await putEverywhere(stores, 'a', 'A', v(1), ['dc-a', 'dc-b']);
  await putObject(stores.of('dc-c'), 'b', 'B', v(1));
  await putByHand(stores.of('dc-b'), 'stray', 'x');
  return runPass(passOptions(stores, { dryRun: true }));
}

describe('pass reports', () => {
  it('render as a table with one row per datacenter, a total and the verdict', async () => {
    const text = renderPassReport(await divergentReport());
    expect(text).toMatch(/^datacenter +scanned +tombstones +equal +missing +stale +corrupt +should-delete +unmanaged +repaired +failed +left$/m);
    expect(text).toMatch(/^dc-c +1 +0 +1 +1 +0 +0 +0 +0 +0 +0 +1$/m);
    expect(text).toContain('scanned = keys listed, tombstones included = equal + stale + corrupt + should-delete + unmanaged');
    expect(text).toMatch(/^total +/m);
    expect(text).toContain('(dry run: nothing was changed)');
    expect(text).toContain('stray  [no version anywhere]  dc-b=unmanaged/skipped');
  });

  it('count a deleted key as scanned wherever its tombstone is listed, so scanned adds up to equal plus the divergent states', async () => {
    const stores = new MemoryStores();
    for (const dc of ['dc-a', 'dc-b', 'dc-c']) {
      await putObject(stores.of(dc), 'kept', 'K', v(1));
      await putObject(stores.of(dc), 'gone', 'G', v(1));
      await deleteObject(stores.of(dc), 'gone', v(2));
    }
    // dc-b missed a delete (it still holds the object), dc-c missed a put.
    await putObject(stores.of('dc-a'), 'late', 'L', v(3));
    await putObject(stores.of('dc-b'), 'late', 'L', v(3));
    await putObject(stores.of('dc-a'), 'dropped', 'D', v(4));
    await putObject(stores.of('dc-b'), 'dropped', 'D', v(4));
    await putObject(stores.of('dc-c'), 'dropped', 'D', v(4));
    await deleteObject(stores.of('dc-a'), 'dropped', v(5));
    await deleteObject(stores.of('dc-c'), 'dropped', v(5));

    const report = await runPass(passOptions(stores, { dryRun: true }));
    const counts = (dc: string) => report.perDatacenter.find((c) => c.datacenter === dc);
    // dc-a: kept, late (objects), gone, dropped (tombstones): all four equal.
    expect(counts('dc-a')).toMatchObject({ scanned: 4, objects: 2, tombstones: 2, equal: 4, missing: 0, shouldBeDeleted: 0 });
    // dc-b: kept, late, dropped (an object a newer delete should have removed), gone (tombstone).
    expect(counts('dc-b')).toMatchObject({ scanned: 4, objects: 3, tombstones: 1, equal: 3, shouldBeDeleted: 1 });
    // dc-c: kept (object), gone, dropped (tombstones); late is missing and not scanned.
    expect(counts('dc-c')).toMatchObject({ scanned: 3, objects: 1, tombstones: 2, equal: 3, missing: 1 });
    for (const c of report.perDatacenter) expect(c.equal + c.stale + c.corrupt + c.shouldBeDeleted + c.unmanaged).toBe(c.scanned);
    expect(report.totals).toMatchObject({ scanned: 11, objects: 6, tombstones: 5, equal: 10 });
  });

  it('count a copy whose only entry is an expired tombstone as missing, not as a scanned key that is stale', async () => {
    const deletedAt = 1_700_000_000_000;
    let now = deletedAt;
    const stores = new MemoryStores(['dc-a', 'dc-b'], () => ({ now: () => new Date(now) }));
    await putEverywhere(stores, 'kept', 'K', v(1), ['dc-a', 'dc-b']);
    await deleteObject(stores.of('dc-b'), 'k', v(deletedAt), deletedAt);
    // Past the grace period the key is put again; dc-b has not applied it and still lists the
    // expired tombstone, which the comparison ignores (it is not in dc-b's digest tree).
    now = deletedAt + 8 * 24 * 3600 * 1000;
    await putObject(stores.of('dc-a'), 'k', 'new', v(now));

    const report = await runPass(passOptions(stores, { dryRun: true, now: () => now }));
    const b = report.perDatacenter.find((c) => c.datacenter === 'dc-b');
    // dc-b's one scanned key, kept, holds the winner; k is one it should hold and lists nothing for.
    expect(b).toMatchObject({ scanned: 1, equal: 1, stale: 0, missing: 1, notRepaired: 1 });
    expect(report.converged).toBe(false);
  });

  it('survive a JSON round trip, and refuse a foreign format', async () => {
    const report = await divergentReport();
    expect(parsePassReport(JSON.stringify(report))).toEqual(report);
    expect(() => parsePassReport('{"format":"other"}')).toThrow(InvalidPassReportError);
    expect(() => parsePassReport('not json')).toThrow(InvalidPassReportError);
  });

  it('are kept newest first and trimmed to the configured length', async () => {
    const redis = new FakeRedis();
    const report = await divergentReport();
    for (let i = 0; i < 5; i++) await recordPass(redis, { ...report, passId: `p${i}` }, { keyPrefix: 't', keep: 3 });
    expect((await recentPasses(redis, report.dataset, 10, { keyPrefix: 't' })).map((r) => r.passId)).toEqual(['p4', 'p3', 'p2']);
    expect((await lastPassSummary(redis, report.dataset, { keyPrefix: 't' }))?.passId).toBe('p4');
    expect(await lastPassSummary(redis, 'never-run', { keyPrefix: 't' })).toBeUndefined();
  });

  it('are recorded once when the job that recorded a pass runs again', async () => {
    const redis = new FakeRedis();
    const report = await divergentReport();
    await recordPass(redis, { ...report, passId: 'p1' }, { keyPrefix: 't' });
    await recordPass(redis, { ...report, passId: 'p2' }, { keyPrefix: 't' });
    await recordPass(redis, { ...report, passId: 'p2' }, { keyPrefix: 't' });
    await recordPass(redis, { ...report, passId: 'p3' }, { keyPrefix: 't' });
    expect((await recentPasses(redis, report.dataset, 10, { keyPrefix: 't' })).map((r) => r.passId)).toEqual(['p3', 'p2', 'p1']);
  });
});

describe('mergeRetriedOutcome', () => {
  const requests = { head: 1, get: 0, put: 0, copy: 0, delete: 0, list: 0 };
  const failed = { code: 'SHARDSYNC_STORE_UNAVAILABLE', message: 'down', retriable: true };

  it('keeps what the pass found and takes the retry\'s result for the copies that had failed', () => {
    const first = { key: 'k', copies: { a: { status: 'equal' as const }, b: { status: 'missing' as const, action: 'copy' as const, result: 'failed' as const, failure: failed } }, bytesMoved: 0, requests };
    const retry = { key: 'k', copies: { a: { status: 'equal' as const }, b: { status: 'missing' as const, action: 'copy' as const, result: 'repaired' as const } }, bytesMoved: 7, requests };
    const merged = mergeRetriedOutcome(first, retry);
    expect(merged.copies).toEqual({ a: { status: 'equal' }, b: { status: 'missing', action: 'copy', result: 'repaired', failure: undefined } });
    expect(merged.bytesMoved).toBe(7);
    expect(merged.requests.head).toBe(2);
    expect(hasRetriableFailure(first)).toBe(true);
    expect(hasRetriableFailure(merged)).toBe(false);
  });

  it('counts a failed copy that the retry found already equal as superseded', () => {
    const first = { key: 'k', copies: { b: { status: 'stale' as const, action: 'copy' as const, result: 'failed' as const, failure: failed } }, bytesMoved: 0, requests };
    const retry = { key: 'k', copies: { b: { status: 'equal' as const } }, bytesMoved: 0, requests };
    expect(mergeRetriedOutcome(first, retry).copies['b']).toEqual({ status: 'stale', action: 'copy', result: 'superseded' });
  });

  it('are not recorded again, nor put back on top, when the job of a recorded pass runs again after CLI passes recorded theirs', async () => {
    const redis = new FakeRedis();
    const report = await divergentReport();
    await recordPass(redis, { ...report, passId: 'scheduled' }, { keyPrefix: 't' });
    for (const id of ['cli-dry-run', 'cli-repair', 'cli-check']) await recordPass(redis, { ...report, passId: id }, { keyPrefix: 't' });
    await recordPass(redis, { ...report, passId: 'scheduled' }, { keyPrefix: 't' });
    expect((await recentPasses(redis, report.dataset, 10, { keyPrefix: 't' })).map((r) => r.passId)).toEqual(['cli-check', 'cli-repair', 'cli-dry-run', 'scheduled']);
  });
});
