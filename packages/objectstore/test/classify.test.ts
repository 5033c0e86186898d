import { describe, expect, test } from 'vitest';
import {
  classifyS3Error,
  PreconditionFailedError,
} from '../src/index.js';

/** Shaped like the SDK's S3ServiceException: `name` is the S3 error code. */
function serviceError(name: string, status: number, message = 'server said no'): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

function socketError(code: string, message = `connect ${code} 127.0.0.1:19001`): Error {
  return Object.assign(new Error(message), { code });
}

const ctx = { operation: 'PutObject', datacenter: 'dc-a', endpoint: 'http://127.0.0.1:19001', bucket: 'models', key: 'ds/a.bin' };

describe('classifyS3Error', () => {
  test.each([
    ['503 SlowDown', serviceError('SlowDown', 503), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['500 InternalError', serviceError('InternalError', 500), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['502 without a code', serviceError('Unknown', 502), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['429', serviceError('TooManyRequests', 429), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['400 RequestTimeout', serviceError('RequestTimeout', 400), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['408 from a proxy (no S3 code)', serviceError('Unknown', 408), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['409 ConditionalRequestConflict', serviceError('ConditionalRequestConflict', 409), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['404 NoSuchUpload', serviceError('NoSuchUpload', 404), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['ECONNREFUSED', socketError('ECONNREFUSED'), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['ECONNRESET', socketError('ECONNRESET', 'read ECONNRESET'), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['EPIPE', socketError('EPIPE', 'write EPIPE'), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['socket hang up', new Error('socket hang up'), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['SDK TimeoutError', Object.assign(new Error('request timed out'), { name: 'TimeoutError' }), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['abort by a timeout signal', Object.assign(new Error('Request aborted'), { name: 'AbortError', cause: new DOMException('t', 'TimeoutError') }), 'SHARDSYNC_STORE_UNAVAILABLE', true],
    ['404 NoSuchKey', serviceError('NoSuchKey', 404), 'SHARDSYNC_OBJECT_NOT_FOUND', false],
    ['404 from a HEAD (no body)', serviceError('NotFound', 404), 'SHARDSYNC_OBJECT_NOT_FOUND', false],
    ['404 NoSuchBucket', serviceError('NoSuchBucket', 404), 'SHARDSYNC_NO_SUCH_BUCKET', false],
    ['412 PreconditionFailed', serviceError('PreconditionFailed', 412), 'SHARDSYNC_PRECONDITION_FAILED', false],
    ['412 from a HEAD (no body)', serviceError('Unknown', 412), 'SHARDSYNC_PRECONDITION_FAILED', false],
    ['403 AccessDenied', serviceError('AccessDenied', 403), 'SHARDSYNC_ACCESS_DENIED', false],
    ['403 SignatureDoesNotMatch', serviceError('SignatureDoesNotMatch', 403), 'SHARDSYNC_ACCESS_DENIED', false],
    ['400 ExpiredToken', serviceError('ExpiredToken', 400), 'SHARDSYNC_ACCESS_DENIED', false],
    ['416 InvalidRange', serviceError('InvalidRange', 416), 'SHARDSYNC_INVALID_RANGE', false],
    ['501 NotImplemented', serviceError('NotImplemented', 501), 'SHARDSYNC_STORE_REQUEST_REJECTED', false],
    ['400 BadDigest', serviceError('BadDigest', 400), 'SHARDSYNC_STORE_REQUEST_REJECTED', false],
    ["the caller's abort", Object.assign(new Error('Request aborted'), { name: 'AbortError' }), 'SHARDSYNC_STORE_ABORTED', false],
    ['a bug', new TypeError('x is not a function'), 'SHARDSYNC_STORE_UNEXPECTED', false],
  ])('%s is %s (retriable: %s)', (_what, err, code, retriable) => {
    const classified = classifyS3Error(err, ctx);
    expect(classified.code).toBe(code);
    expect(classified.retriable).toBe(retriable);
    expect(classified.cause).toBe(err);
  });

  test('messages say where it happened and what to do', () => {
    const bucket = classifyS3Error(serviceError('NoSuchBucket', 404), ctx);
    expect(bucket.message).toContain('bucket "models" does not exist at http://127.0.0.1:19001');
    expect(bucket.message).toContain('create it or fix');
    const refused = classifyS3Error(socketError('ECONNREFUSED'), ctx);
    expect(refused.message).toMatch(/^PutObject of key "ds\/a\.bin" in bucket "models" at http:\/\/127\.0\.0\.1:19001 \(datacenter dc-a\) failed/);
    expect(refused.message).toContain('ECONNREFUSED');
    expect(classifyS3Error(serviceError('NotImplemented', 501), ctx).message).toContain('WHEN_REQUIRED');
    expect(classifyS3Error(serviceError('SlowDown', 503), ctx).statusCode).toBe(503);
  });

  test('never throws, whatever it is given', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
      },
    );
    for (const weird of [undefined, null, 'a string', 42, {}, hostile]) {
      expect(() => classifyS3Error(weird)).not.toThrow();
      expect(classifyS3Error(weird).retriable).toBe(false);
    }
  });

  test('returns errors it already classified unchanged', () => {
    const err = new PreconditionFailedError('already classified');
    expect(classifyS3Error(err)).toBe(err);
  });
});
