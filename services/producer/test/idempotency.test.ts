import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createLogger } from '@shardsync/runtime';
import { MemoryIdempotencyStore } from '../src/idempotency/memory-store.js';
import type { ClaimAnswer, ClaimOutcome, ClaimRef, CompleteOutcome, UnsettledEvent } from '../src/idempotency/store.js';
import { CLAIM_TTL_MS, UnreadableRecordError } from '../src/idempotency/store.js';
import { ProducerError } from '../src/errors.js';
import { MaybeAppendedError } from '../src/ingest/errors.js';
import { CLAIM_REFRESH_MS, Idempotency } from '../src/ingest/idempotency.js';
import type { Accepted } from '../src/ingest/types.js';
import { ProducerMetrics } from '../src/metrics.js';

/** The in-memory store, whose first `failures` complete() calls fail as a Redis blip would. */
class FlakyCompleteStore extends MemoryIdempotencyStore {
  failures: number;
  completeCalls = 0;

  constructor(failures: number) {
    super();
    this.failures = failures;
  }

  override async completeAll(answers: readonly ClaimAnswer[], ttlMs: number): Promise<CompleteOutcome[]> {
    this.completeCalls += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('Connection is closed.');
    }
    return super.completeAll(answers, ttlMs);
  }
}

/** The in-memory store, whose keep-alives fail while `extendFails` is set, as during a Redis outage. */
class FailingExtendStore extends MemoryIdempotencyStore {
  extendFails = false;

  override async extend(claim: ClaimRef): Promise<boolean> {
    if (this.extendFails) throw new Error('Connection is closed.');
    return super.extend(claim);
  }
}

/** The in-memory store, whose first `lostReplies` claims are made but answer an error, as when a connection drops before Redis's reply. */
class LostClaimReplyStore extends MemoryIdempotencyStore {
  lostReplies: number;

  constructor(lostReplies: number) {
    super();
    this.lostReplies = lostReplies;
  }

  override async claim(claim: ClaimRef, ttlMs: number): Promise<ClaimOutcome> {
    const outcome = await super.claim(claim, ttlMs);
    if (this.lostReplies > 0) {
      this.lostReplies -= 1;
      throw new Error('Connection is closed.');
    }
    return outcome;
  }
}

/** A request whose work runs until `finish` or `fail` is called. */
function pendingRequest(idempotency: Idempotency, key: string, result: Accepted) {
  let finish = (): void => undefined;
  let fail = (): void => undefined;
  const answer = idempotency.run('tests', key, 'PUT ds/k', () => new Promise<Accepted>((resolve, reject) => {
    finish = () => resolve(result);
    fail = () => reject(new Error('kafka is down'));
  }));
  return { answer, finish: () => finish(), fail: () => fail() };
}

const DAY_MS = 24 * 3600 * 1000;

const accepted: Accepted = { eventId: 'e-1', dataset: 'ds', key: 'k', version: 'v1', sha256: null, size: 0 };
const fast = { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 5 };

/** An Idempotency on fake timers (restored after the test), with the store's extends spied on. */
function keptAlive() {
  vi.useFakeTimers();
  onTestFinished(() => void vi.useRealTimers());
  const store = new MemoryIdempotencyStore();
  const extend = vi.spyOn(store, 'extend');
  const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { backgroundRetry: fast });
  return { idempotency, extend };
}

function setup(failures: number) {
  const store = new FlakyCompleteStore(failures);
  const logger = createLogger('test', {}, 'silent');
  const errors = vi.spyOn(logger, 'error');
  const idempotency = new Idempotency(store, 60_000, logger, { backgroundRetry: fast });
  let emitted = 0;
  const run = () =>
    idempotency.run('tests', 'request-1', 'PUT ds/k', async () => {
      emitted += 1;
      return accepted;
    });
  return { store, idempotency, errors, run, emitted: () => emitted };
}

describe('Idempotency', () => {
  it('a retry whose body is not the first one\'s is refused with 422; with the same body it gets the first answer, and the work runs once', async () => {
    const idempotency = new Idempotency(new MemoryIdempotencyStore(), 60_000, createLogger('test', {}, 'silent'));
    const first: Accepted = { eventId: 'e-1', dataset: 'ds', key: 'k', version: 'v1', sha256: 'a'.repeat(64), size: 3 };
    const work = vi.fn(async () => first);
    const asked: Accepted[] = [];
    const bodyIs = (same: boolean) => async (answer: Accepted) => {
      asked.push(answer);
      return same;
    };
    expect(await idempotency.run('tests', 'request-1', 'PUT ds/k', work, bodyIs(false))).toEqual(first);
    expect(asked).toEqual([]); // a first request has no earlier body to be compared with
    await idempotency.close(); // records the answer (at the end of the turn otherwise)
    await expect(idempotency.run('tests', 'request-1', 'PUT ds/k', work, bodyIs(false))).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED', status: 422 });
    expect(await idempotency.run('tests', 'request-1', 'PUT ds/k', work, bodyIs(true))).toEqual(first);
    expect(asked).toEqual([first, first]);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('a key used again for another request (another method or object) is refused with 422, and the work does not run again', async () => {
    const idempotency = new Idempotency(new MemoryIdempotencyStore(), 60_000, createLogger('test', {}, 'silent'));
    const first: Accepted = { eventId: 'e-1', dataset: 'ds', key: 'k', version: 'v1', sha256: 'a'.repeat(64), size: 3 };
    const work = vi.fn(async () => first);
    expect(await idempotency.run('tests', 'request-1', 'PUT ds/k', work)).toEqual(first);
    await idempotency.close(); // records the answer
    for (const other of ['DELETE ds/k', 'PUT ds/other', 'PUT other/k']) {
      await expect(idempotency.run('tests', 'request-1', other, work)).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED', status: 422, message: 'Idempotency-Key "request-1" was used for a different request' });
    }
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('a retry is compared by its full request description when the record has one too, and by the fingerprint alone against a record of an older producer (none), so retries across a rolling upgrade still match', async () => {
    const idempotency = new Idempotency(new MemoryIdempotencyStore(), 60_000, createLogger('test', {}, 'silent'));
    const work = vi.fn(async () => accepted);
    const described = (request: string, fingerprint = 'PUT ds/k  0') => ({ fingerprint, request });

    // Recorded by an older producer: a fingerprint only.
    expect(await idempotency.run('tests', 'old', 'PUT ds/k  0', work)).toEqual(accepted);
    // Recorded with a description.
    expect(await idempotency.run('tests', 'new', described('metadata a'), work)).toEqual(accepted);
    await idempotency.close(); // records the answers
    expect(await idempotency.run('tests', 'old', described('metadata b'), work)).toEqual(accepted);
    expect(await idempotency.run('tests', 'new', described('metadata a', 'PUT ds/k  '), work)).toEqual(accepted);
    await expect(idempotency.run('tests', 'new', described('metadata b'), work)).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED', status: 422 });
    // An older producer, asking with the fingerprint alone, still gets the answer recorded here.
    expect(await idempotency.run('tests', 'new', 'PUT ds/k  0', work)).toEqual(accepted);
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('an answer whose first recording attempts fail is recorded by a later one, so a retry gets it and emits nothing', async () => {
    const { store, idempotency, errors, run, emitted } = setup(2);
    expect(await run()).toEqual(accepted);
    // Answering did not wait for the recording, which starts at the end of the turn...
    expect(store.completeCalls).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    // ...failed once, and is waiting to try again.
    expect(store.completeCalls).toBe(1);
    await idempotency.close();
    expect(store.completeCalls).toBe(3);
    expect(await run()).toEqual(accepted);
    expect(emitted()).toBe(1);
    expect(errors).not.toHaveBeenCalled();
  });

  it('an answer that cannot be recorded at all is logged as an error, and the request still succeeds', async () => {
    const { store, idempotency, errors, run } = setup(Infinity);
    expect(await run()).toEqual(accepted);
    await idempotency.close();
    expect(store.completeCalls).toBe(fast.maxAttempts);
    expect(errors).toHaveBeenCalledTimes(1);
    await expect(run()).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS', status: 409 });
  });

  it('the answers of requests finishing in one event-loop turn are recorded by one store call, and close() records those still waiting', async () => {
    const store = new FlakyCompleteStore(0);
    const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { backgroundRetry: fast });
    const keys = ['a', 'b', 'c'];
    const first = await Promise.all(keys.map((k) => idempotency.run('tests', k, `PUT ds/${k}`, async () => ({ ...accepted, key: k }))));
    await idempotency.close();
    expect(store.completeCalls).toBe(1);
    const retried = await Promise.all(
      keys.map((k) =>
        idempotency.run('tests', k, `PUT ds/${k}`, async () => {
          throw new Error(`${k} ran twice`);
        }),
      ),
    );
    expect(retried).toEqual(first);
  });

  it('a claim made less than half an interval before a round is not extended in it, so short requests cost no extend', async () => {
    const { idempotency, extend } = keptAlive();
    const long = pendingRequest(idempotency, 'long', accepted);
    await vi.advanceTimersByTimeAsync(CLAIM_REFRESH_MS - 10_000);
    const short = pendingRequest(idempotency, 'short', accepted);
    await vi.advanceTimersByTimeAsync(20_000);
    short.finish();
    expect(await short.answer).toEqual(accepted);
    expect(extend.mock.calls.map(([claim]) => claim.key)).toEqual(['long']);
    long.finish();
    await long.answer;
    await idempotency.close();
  });

  it('a request running longer than a claim lives keeps extending its claim until it ends', async () => {
    const { idempotency, extend } = keptAlive();
    const upload = pendingRequest(idempotency, 'long-upload', accepted);
    await vi.advanceTimersByTimeAsync(3.5 * CLAIM_REFRESH_MS);
    expect(extend).toHaveBeenCalledTimes(3);
    expect(extend).toHaveBeenCalledWith(expect.objectContaining({ scope: 'tests', key: 'long-upload' }));
    upload.finish();
    expect(await upload.answer).toEqual(accepted);
    await vi.advanceTimersByTimeAsync(5 * CLAIM_REFRESH_MS);
    expect(extend).toHaveBeenCalledTimes(3);
  });
});

describe('Idempotency claims are owned by the request that made them', () => {
  const second: Accepted = { ...accepted, eventId: 'e-2', version: 'v2' };

  /** Request A, whose keep-alive failed until its claim expired, then request B, which claimed the key since. */
  async function takenOver() {
    const store = new FailingExtendStore();
    const metrics = new ProducerMetrics();
    const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { backgroundRetry: fast, metrics });
    const a = pendingRequest(idempotency, 'k', accepted);
    store.extendFails = true;
    await vi.advanceTimersByTimeAsync(CLAIM_TTL_MS + 1);
    store.extendFails = false;
    const b = pendingRequest(idempotency, 'k', second);
    await vi.advanceTimersByTimeAsync(0);
    const conflicts = async () => Object.fromEntries((await metrics.idempotencyConflicts.get()).values.map((v): [string, number] => [String(v.labels.conflict), v.value]));
    return { store, idempotency, a, b, conflicts };
  }

  describe('after its claim expired and another request claimed the key', () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it('a request that fails after its claim was taken over leaves the new claim in place, so a third request gets 409', async () => {
      const { idempotency, a } = await takenOver();
      a.fail();
      await expect(a.answer).rejects.toThrow('kafka is down');
      await idempotency.close();
      await expect(idempotency.run('tests', 'k', 'PUT ds/k', async () => accepted)).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_IN_PROGRESS' });
    });

    it('a request whose claim was taken over stops extending it and counts the lost claim', async () => {
      const { store, a, b, conflicts } = await takenOver();
      const extend = vi.spyOn(store, 'extend');
      await vi.advanceTimersByTimeAsync(3 * CLAIM_REFRESH_MS);
      // B extends its own claim every time; A found the key no longer its own once, and stopped.
      expect(extend.mock.calls.length).toBe(3 + 1);
      expect(await conflicts()).toEqual({ 'claim-lost': 1 });
      a.finish();
      b.finish();
      await Promise.all([a.answer, b.answer]);
    });

    it('an acknowledged answer replaces the claim of the request that took over; that one gets its own answer, retries get the first', async () => {
      const { idempotency, a, b, conflicts } = await takenOver();
      a.finish();
      expect(await a.answer).toEqual(accepted);
      await idempotency.close();
      // Nothing can stop B's event now; a retry arriving meanwhile gets A's true answer instead of 409.
      expect(await idempotency.run('tests', 'k', 'PUT ds/k', async () => second)).toEqual(accepted);
      b.finish();
      expect(await b.answer).toEqual(second);
      await idempotency.close();
      let emitted = 0;
      expect(
        await idempotency.run('tests', 'k', 'PUT ds/k', async () => {
          emitted += 1;
          return second;
        }),
      ).toEqual(accepted);
      expect(emitted).toBe(0);
      expect(await conflicts()).toEqual({ 'replaced-claim': 1, 'answer-kept': 1 });
    });
  });

  it('a claim whose reply was lost is claimed again by the same request, which runs once', async () => {
    const store = new LostClaimReplyStore(1);
    const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { claimRetry: fast, backgroundRetry: fast });
    let emitted = 0;
    const run = () =>
      idempotency.run('tests', 'k', 'PUT ds/k', async () => {
        emitted += 1;
        return accepted;
      });
    expect(await run()).toEqual(accepted);
    await idempotency.close();
    expect(await run()).toEqual(accepted);
    expect(emitted).toBe(1);
  });

  it('a claim whose replies are lost on every attempt answers 503, and is released so the next retry runs instead of getting 409', async () => {
    const store = new LostClaimReplyStore(fast.maxAttempts);
    const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { claimRetry: fast, backgroundRetry: fast });
    await expect(idempotency.run('tests', 'k', 'PUT ds/k', async () => accepted)).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503 });
    await idempotency.close();
    expect(await idempotency.run('tests', 'k', 'PUT ds/k', async () => accepted)).toEqual(accepted);
  });

  it('a record that is neither a claim nor an answer is a 500 that is not retried, and the work never runs', async () => {
    const store = new (class extends MemoryIdempotencyStore {
      claimCalls = 0;
      releaseCalls = 0;
      override async claim(): Promise<ClaimOutcome> {
        this.claimCalls += 1;
        throw new UnreadableRecordError('the idempotency record x is neither a claim nor JSON');
      }
      override async release(claim: ClaimRef): Promise<boolean> {
        this.releaseCalls += 1;
        return super.release(claim);
      }
    })();
    const idempotency = new Idempotency(store, DAY_MS, createLogger('test', {}, 'silent'), { claimRetry: fast, backgroundRetry: fast });
    let ran = false;
    const refused = idempotency.run('tests', 'k', 'PUT ds/k', async () => {
      ran = true;
      return accepted;
    });
    await expect(refused).rejects.toMatchObject({ code: 'SHARDSYNC_INTERNAL', status: 500, retriable: false });
    await expect(refused).rejects.toThrow(/Idempotency-Key "k" cannot be read: the idempotency record x is neither a claim nor JSON/);
    await idempotency.close();
    expect(ran).toBe(false);
    expect(store.claimCalls).toBe(1);
    expect(store.releaseCalls).toBe(0);
  });

  describe('an event whose append may have landed despite the error', () => {
    const event: UnsettledEvent = { topic: 'updates', key: 'ds/k', value: Buffer.from('encoded').toString('base64'), headers: { 'shardsync-event-id': 'e-1' } };
    const maybeAppended = () => new MaybeAppendedError(event, accepted, { cause: new Error('Request timed out') });

    function withResend(resend: (e: UnsettledEvent) => Promise<void>) {
      const idempotency = new Idempotency(new MemoryIdempotencyStore(), DAY_MS, createLogger('test', {}, 'silent'), { backgroundRetry: fast, resend });
      const work = vi.fn(async (): Promise<Accepted> => {
        throw maybeAppended();
      });
      return { idempotency, work, run: () => idempotency.run('tests', 'request-1', 'PUT ds/k', work) };
    }

    it('a retry sends the very same event again and gets its answer, never a second update; later retries send nothing', async () => {
      const resent: UnsettledEvent[] = [];
      const { idempotency, work, run } = withResend(async (e) => {
        resent.push(e);
      });
      await expect(run()).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE', status: 503, retriable: true });
      await idempotency.close(); // records what the retry needs
      expect(await run()).toEqual(accepted);
      expect(resent).toEqual([event]);
      await idempotency.close(); // records that it is settled
      expect(await run()).toEqual(accepted);
      expect(resent).toEqual([event]);
      expect(work).toHaveBeenCalledTimes(1);
    });

    it('a retry whose resend fails again answers 503 and leaves the event for the next retry to send', async () => {
      let kafkaUp = false;
      const resend = vi.fn(async () => {
        if (!kafkaUp) throw Object.assign(new Error('Connection timeout'), { retriable: true });
      });
      const { idempotency, work, run } = withResend(resend);
      await expect(run()).rejects.toBeInstanceOf(MaybeAppendedError);
      await idempotency.close();
      const failure: unknown = await run().catch((err: unknown) => err);
      expect(failure).toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE' });
      expect(String(failure)).toMatch(/retry with the same key/);
      kafkaUp = true;
      expect(await run()).toEqual(accepted);
      expect(resend).toHaveBeenCalledTimes(2);
      expect(work).toHaveBeenCalledTimes(1);
    });

    it('the answer recorded once its event is sent again keeps the request description, so a retry asking for another request is still refused', async () => {
      const { idempotency, work } = withResend(async () => undefined);
      const asked = (request: string) => idempotency.run('tests', 'request-1', { fingerprint: 'PUT ds/k', request }, work);
      await expect(asked('metadata a')).rejects.toBeInstanceOf(MaybeAppendedError);
      await idempotency.close();
      expect(await asked('metadata a')).toEqual(accepted);
      await idempotency.close(); // records that it is settled
      await expect(asked('metadata b')).rejects.toMatchObject({ code: 'SHARDSYNC_IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(work).toHaveBeenCalledTimes(1);
    });

    it('a failure before anything was sent releases the claim, so a retry runs the request afresh', async () => {
      const resend = vi.fn(async () => undefined);
      const idempotency = new Idempotency(new MemoryIdempotencyStore(), DAY_MS, createLogger('test', {}, 'silent'), { backgroundRetry: fast, resend });
      const work = vi.fn().mockRejectedValueOnce(new ProducerError('SHARDSYNC_UNAVAILABLE', 'Kafka is unavailable')).mockResolvedValueOnce(accepted);
      await expect(idempotency.run('tests', 'request-1', 'PUT ds/k', work)).rejects.toMatchObject({ code: 'SHARDSYNC_UNAVAILABLE' });
      await idempotency.close();
      expect(await idempotency.run('tests', 'request-1', 'PUT ds/k', work)).toEqual(accepted);
      expect(work).toHaveBeenCalledTimes(2);
      expect(resend).not.toHaveBeenCalled();
    });
  });
});
