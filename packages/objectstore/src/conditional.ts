import { randomUUID } from 'node:crypto';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { ObjectNotFoundError, PreconditionFailedError } from './errors.js';
import type { S3Context } from './s3-context.js';
import { assertConditions, hasConditions, type NormalizedConditions } from './validate.js';

/** Reserved prefix of the keys the `auto` mode writes while probing the server. */
export const CONDITIONAL_PROBE_PREFIX = '.shardsync/probe/conditional-writes/';

/** Header fields for PutObject / CompleteMultipartUpload / CopyObject / DeleteObject. */
export interface ConditionalHeaders {
  IfNoneMatch?: string;
  IfMatch?: string;
}

/**
 * How each kind of request enforces its conditions. Servers differ per operation: s3proxy 4.1.0
 * enforces If-None-Match / If-Match on PutObject, CompleteMultipartUpload and DeleteObject but
 * ignores them on CopyObject; 2.6.0 ignores them everywhere; some servers parse If-Match on
 * DeleteObject without enforcing it.
 */
export interface ConditionalWriteSupport {
  /** PutObject, CompleteMultipartUpload. */
  readonly write: 'native' | 'emulated';
  /** CopyObject (a multipart copy completes with CompleteMultipartUpload, so follows `write`). */
  readonly copy: 'native' | 'emulated';
  /** DeleteObject with If-Match (the consumer's tombstone expiry relies on it). */
  readonly delete: 'native' | 'emulated';
}

/** An ETag no object has (the MD5 of nothing is d41d8cd9...), for probing. */
const NO_SUCH_ETAG = '"00000000000000000000000000000000"';

/**
 * Enforces write conditions natively (headers) or by emulation (HEAD and compare), per the
 * store's `conditionalWrites` option; see `ConditionalWriteMode` for the race the emulation has.
 */
export class ConditionalWrites {
  readonly #ctx: S3Context;
  #support: Promise<ConditionalWriteSupport> | undefined;

  constructor(ctx: S3Context) {
    this.#ctx = ctx;
    const configured = ctx.options.conditionalWrites;
    if (configured !== 'auto') this.#support = Promise.resolve({ write: configured, copy: configured, delete: configured });
  }

  /**
   * The support in force; in `auto` mode the first call probes the server (a failed probe is
   * retried next time). `signal` stops only this caller's wait: the probe is shared by every
   * caller waiting for it, so it runs under none of their signals (its requests have the store's
   * timeouts). Run under the first caller's, its abort failed every other caller with an
   * `OperationAbortedError` they never asked for, which is not retriable (a consumer
   * dead-letters such an update).
   */
  async support(signal?: AbortSignal): Promise<ConditionalWriteSupport> {
    this.#support ??= this.#probe().catch((err: unknown) => {
      this.#support = undefined;
      throw err;
    });
    if (signal === undefined) return this.#support;
    if (signal.aborted) throw this.#ctx.aborted('conditional write probe', undefined, signal);
    const probing = this.#support;
    return new Promise<ConditionalWriteSupport>((resolve, reject) => {
      const onAbort = (): void => reject(this.#ctx.aborted('conditional write probe', undefined, signal));
      signal.addEventListener('abort', onAbort, { once: true });
      probing.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /**
   * Call right before the write that must be conditional. Emulated: HEADs the key and throws
   * `PreconditionFailedError` if the conditions do not hold, and returns no headers. Native:
   * returns the headers for the server to check.
   */
  async prepare(key: string, conditions: NormalizedConditions, operation: string, signal?: AbortSignal): Promise<ConditionalHeaders> {
    if (!hasConditions(conditions)) return {};
    const support = await this.support(signal);
    const mode = operation === 'CopyObject' ? support.copy : operation === 'DeleteObject' ? support.delete : support.write;
    if (mode === 'emulated') {
      await this.check(key, conditions, operation, signal);
      return {};
    }
    return headersFor(conditions);
  }

  /**
   * HEADs the key and throws `PreconditionFailedError` if the conditions do not hold. Multipart
   * writes call this before uploading anything, whatever the mode, so a write doomed to fail
   * does not first move gigabytes.
   */
  async check(key: string, conditions: NormalizedConditions, operation: string, signal?: AbortSignal): Promise<void> {
    if (!hasConditions(conditions)) return;
    const current = await this.#ctx.head(key, signal);
    assertConditions(current, conditions, `${operation} of key ${JSON.stringify(key)} in bucket "${this.#ctx.bucket}" (datacenter ${this.#ctx.datacenter})`);
  }

  /**
   * Writes a small object twice, the second time with `If-None-Match: *`, copies it onto itself
   * with `If-None-Match: *`, then deletes it with an `If-Match` no object has: a 412 means the
   * server enforces conditions for that kind of request.
   */
  async #probe(): Promise<ConditionalWriteSupport> {
    const ctx = this.#ctx;
    const key = `${CONDITIONAL_PROBE_PREFIX}${randomUUID()}`;
    const enforced = async (request: () => Promise<unknown>): Promise<'native' | 'emulated'> => {
      try {
        await request();
        return 'emulated';
      } catch (err) {
        if (err instanceof PreconditionFailedError) return 'native';
        throw err;
      }
    };
    const put = (headers: ConditionalHeaders) =>
      ctx.call('PutObject', key, undefined, (abortSignal) =>
        ctx.client.send(withAbortSignal(new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: 'probe', ...headers }), abortSignal)),
      );
    try {
      await put({});
      const write = await enforced(() => put({ IfNoneMatch: '*' }));
      const copy = await enforced(() =>
        ctx.call('CopyObject', key, undefined, (abortSignal) =>
          ctx.client.send(withAbortSignal(new CopyObjectCommand({ Bucket: ctx.bucket, Key: key, CopySource: `${ctx.bucket}/${key}`, MetadataDirective: 'REPLACE', IfNoneMatch: '*' }), abortSignal)),
        ),
      );
      // Last: a server that ignores the condition deletes the probe.
      const del = await enforced(() =>
        ctx.call('DeleteObject', key, undefined, (abortSignal) =>
          ctx.client.send(withAbortSignal(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: key, IfMatch: NO_SUCH_ETAG }), abortSignal)),
        ),
      );
      return { write, copy, delete: del };
    } finally {
      await ctx
        .call('DeleteObject', key, AbortSignal.timeout(ctx.options.cleanupTimeoutMs), (abortSignal) =>
          ctx.client.send(withAbortSignal(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: key }), abortSignal)),
        )
        .catch(() => undefined); // a leftover probe object under the reserved prefix is harmless
    }
  }
}

/**
 * Servers that enforce `If-Match` answer 404 when the key does not exist (AWS and s3proxy 4.x do);
 * the emulation, the memory store and the caller all treat that as the precondition failing.
 */
export function missingAsPreconditionFailure(err: unknown, headers: ConditionalHeaders): unknown {
  if (headers.IfMatch === undefined || !(err instanceof ObjectNotFoundError)) return err;
  return new PreconditionFailedError(`${err.message.replace(/: the object does not exist$/, '')}: If-Match ${headers.IfMatch} failed, the key does not exist`, {
    cause: err,
    statusCode: 404,
  });
}

function headersFor(c: NormalizedConditions): ConditionalHeaders {
  if (c.ifNoneMatch !== undefined) return { IfNoneMatch: c.ifNoneMatch };
  if (c.ifMatch !== undefined) return { IfMatch: c.ifMatch };
  return {};
}
