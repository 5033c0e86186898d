import { describe, expect, it } from 'vitest';
import { backoffDelayMs, compileClientOptions, DEFAULT_RETRY, ShardsyncClientError } from '../src/index.js';
import { nextDelayMs, retryAfterMs } from '../src/retry.js';

function refusal(run: () => unknown): ShardsyncClientError {
  try {
    run();
  } catch (err) {
    if (err instanceof ShardsyncClientError) return err;
    throw err;
  }
  throw new Error('expected compileClientOptions to refuse');
}

describe('compileClientOptions', () => {
  it('fills in the documented defaults', () => {
    const o = compileClientOptions({ token: 'tok-0123456789abcdef' });
    expect(o.baseUrl.href).toBe('http://127.0.0.1:18080/');
    expect(o).toMatchObject({ token: 'tok-0123456789abcdef', connectTimeoutMs: 10_000, idleTimeoutMs: 60_000, maxSockets: 64, keepAliveMs: 30_000 });
    expect(o.retry).toEqual({ maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 10_000 });
    expect(o.retry).toEqual(DEFAULT_RETRY);
    expect(o.batch).toBeUndefined();
  });

  it('batch: true takes the default batch limits, and an object keeps what it sets', () => {
    expect(compileClientOptions({ token: 't', batch: true }).batch).toEqual({ maxItems: 256, maxBytes: 4 * 1024 * 1024, maxItemBytes: 64 * 1024, maxRequests: 4, format: 'binary' });
    expect(compileClientOptions({ token: 't', batch: { format: 'json' } }).batch).toMatchObject({ maxItems: 256, format: 'json' });
    expect(compileClientOptions({ token: 't', batch: { maxRequests: 1 } }).batch).toMatchObject({ maxItems: 256, maxRequests: 1 });
    expect(compileClientOptions({ token: 't', batch: false }).batch).toBeUndefined();
  });

  it('keeps what the user passed, partial retry policies included', () => {
    const o = compileClientOptions({ token: 't', baseUrl: 'https://gw.example:8443/shardsync/', retry: { maxAttempts: 1 }, idleTimeoutMs: 5 });
    expect(o.baseUrl.href).toBe('https://gw.example:8443/shardsync/');
    expect(o.retry).toEqual({ maxAttempts: 1, initialDelayMs: 200, maxDelayMs: 10_000 });
    expect(o.idleTimeoutMs).toBe(5);
  });

  it('a maximum retry delay below the default first delay lowers the first delay with it', () => {
    expect(compileClientOptions({ token: 't', retry: { maxDelayMs: 50 } }).retry).toEqual({ maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 50 });
  });

  it('refuses bad options with a message naming the option', () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'token is required'],
      [{ token: 'has space' }, 'token must be printable ASCII'],
      [{ token: 't', baseUrl: 'producer:18080' }, 'baseUrl "producer:18080" must use http: or https:'],
      [{ token: 't', baseUrl: 'not a url' }, 'baseUrl "not a url" is not a URL'],
      [{ token: 't', baseUrl: 'http://u:p@h' }, 'baseUrl must not contain credentials'],
      [{ token: 't', baseUrl: 'http://h/?x=1' }, 'must not have a query'],
      [{ token: 't', retry: { maxAttempts: 0 } }, 'retry.maxAttempts must be an integer of at least 1'],
      [{ token: 't', retry: { initialDelayMs: 500, maxDelayMs: 100 } }, 'retry.initialDelayMs (500) must not exceed retry.maxDelayMs (100)'],
      [{ token: 't', connectTimeoutMs: 1.5 }, 'connectTimeoutMs must be an integer'],
      [{ token: 't', batch: { maxItems: 0 } }, 'batch.maxItems must be an integer of at least 1'],
      [{ token: 't', batch: { maxItems: 5000 } }, 'batch.maxItems must be at most 1000'],
      [{ token: 't', batch: 'yes' }, 'batch must be true, false or an object'],
      [{ token: 't', batch: { format: 'avro' } }, 'batch.format must be "binary" or "json", got "avro"'],
      [{ token: 't', timeoutMs: 5000 }, 'unknown option timeoutMs; known: baseUrl, token,'],
      [{ token: 't', retry: { attempts: 3 } }, 'unknown option retry.attempts; known: retry.maxAttempts'],
      [{ token: 't', batch: { maxItem: 3, size: 1 } }, 'unknown options batch.maxItem, batch.size'],
      [{ token: 't', batch: { maxBytes: 1000, maxItemBytes: 2000 } }, 'batch.maxItemBytes (2000) must not exceed batch.maxBytes (1000)'],
    ];
    for (const [options, message] of cases) {
      const err = refusal(() => compileClientOptions(options as Parameters<typeof compileClientOptions>[0]));
      expect(err.code).toBe('SHARDSYNC_CLIENT_INVALID_OPTIONS');
      expect(err.message).toContain(message);
    }
  });
  it('refuses a duration a Node timer cannot hold (over 2^31 - 1 ms), which would fire after 1 ms instead', () => {
    const max = 2 ** 31 - 1;
    for (const name of ['connectTimeoutMs', 'idleTimeoutMs', 'keepAliveMs'] as const) {
      expect(compileClientOptions({ token: 't', [name]: max })[name]).toBe(max);
      const err = refusal(() => compileClientOptions({ token: 't', [name]: max + 1 }));
      expect(err.code).toBe('SHARDSYNC_CLIENT_INVALID_OPTIONS');
      expect(err.message).toContain(`${name} must be at most ${max}`);
    }
    expect(compileClientOptions({ token: 't', retry: { maxDelayMs: max } }).retry.maxDelayMs).toBe(max);
    expect(refusal(() => compileClientOptions({ token: 't', retry: { maxDelayMs: Number.MAX_SAFE_INTEGER } })).message).toContain('retry.maxDelayMs must be at most');
    expect(refusal(() => compileClientOptions({ token: 't', retry: { initialDelayMs: max + 1 } })).message).toContain('retry.initialDelayMs must be at most');
  });
});

describe('backoff', () => {
  const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1000 };

  it('delays grow exponentially up to maxDelayMs, with full jitter below the ceiling', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, policy, () => 0.999999));
    expect(ceilings).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(200);
  });

  it('a Retry-After the server asks for lengthens the wait, but never past maxDelayMs', () => {
    expect(nextDelayMs(1, policy, 500, () => 0)).toBe(500);
    expect(nextDelayMs(1, policy, 5000, () => 0)).toBe(1000);
    expect(nextDelayMs(4, policy, undefined, () => 0.5)).toBe(400);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Wed, 01 Jan 2025 00:00:02 GMT', now)).toBe(2000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
