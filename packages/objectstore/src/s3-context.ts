import { Readable } from 'node:stream';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyS3Error } from './classify.js';
import { withAbortSignal } from './client.js';
import { normalizeEtag } from './etag.js';
import { ObjectNotFoundError, OperationAbortedError, StoreClosedError, StoreUnavailableError } from './errors.js';
import type { CompiledObjectStoreOptions } from './options.js';
import type { ObjectInfo } from './types.js';

/** What the S3 operations (put, copy, conditional writes) share: one client, one bucket, one error context. */
export class S3Context {
  readonly client: S3Client;
  readonly datacenter: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly options: CompiledObjectStoreOptions;
  #closed = false;

  constructor(init: { client: S3Client; datacenter: string; endpoint: string; bucket: string; options: CompiledObjectStoreOptions }) {
    this.client = init.client;
    this.datacenter = init.datacenter;
    this.endpoint = init.endpoint;
    this.bucket = init.bucket;
    this.options = init.options;
  }

  /** Marks the context closed; later calls fail with `StoreClosedError`. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Runs one SDK call, turning whatever it throws into an `ObjectStoreError` that names the
   * operation, key, bucket, endpoint and datacenter.
   */
  async call<T>(operation: string, key: string | undefined, signal: AbortSignal | undefined, run: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    this.assertOpen(operation);
    if (signal?.aborted === true) throw this.aborted(operation, key, signal);
    try {
      return await run(signal);
    } catch (err) {
      destroyUnreadBody(err);
      throw classifyS3Error(err, { operation, key, bucket: this.bucket, endpoint: this.endpoint, datacenter: this.datacenter });
    }
  }

  /** HeadObject; `undefined` when the key does not exist. */
  async head(key: string, signal: AbortSignal | undefined): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.call('HeadObject', key, signal, (abortSignal) =>
        this.client.send(withAbortSignal(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), abortSignal)),
      );
      return toObjectInfo(key, out, out.ContentLength);
    } catch (err) {
      // A HEAD has no body, so a 404 for a missing bucket looks exactly like a missing key; ping()
      // at start-up (HeadBucket) is what tells them apart.
      if (err instanceof ObjectNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The error for a call whose caller's signal fired: `OperationAbortedError`, or, for a timeout
   * signal (`AbortSignal.timeout()`), a retriable `StoreUnavailableError`, as classifyS3Error()
   * treats a request that signal cut off; otherwise which of the two a put() got depended on
   * whether the timeout fired in a request or between two.
   */
  aborted(operation: string, key: string | undefined, signal: AbortSignal): OperationAbortedError | StoreUnavailableError {
    const what = `${key === undefined ? operation : `${operation} of key ${JSON.stringify(key)}`} in bucket "${this.bucket}" (datacenter ${this.datacenter})`;
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') return new StoreUnavailableError(`${what} timed out: ${reason.message}`, { cause: reason });
    return new OperationAbortedError(`${what} was aborted by the caller`, { cause: reason });
  }

  assertOpen(operation: string): void {
    if (this.#closed) throw new StoreClosedError(`${operation} on the object store of datacenter ${this.datacenter} after close()`);
  }
}

/**
 * Destroys the body of the response a failed call carries (the SDK's hidden `$response`), unless
 * it was read to the end. The SDK reads the body of an error answer, but not of a 2xx answer it
 * failed to deserialize (e.g. a GET whose Last-Modified it cannot parse): left alone, that body
 * held its keep-alive socket for good, and enough such failures ran the pool dry. A body already
 * read is left as it is (its socket is back in the pool).
 */
function destroyUnreadBody(err: unknown): void {
  const response: unknown = typeof err === 'object' && err !== null ? (err as { $response?: unknown }).$response : undefined;
  const body: unknown = typeof response === 'object' && response !== null ? (response as { body?: unknown }).body : undefined;
  if (body instanceof Readable && !body.readableEnded && !body.destroyed) body.destroy();
}

/** True once `signal` fired. A function, so TypeScript does not narrow `signal.aborted` across awaits. */
export function isAborted(signal: AbortSignal | undefined): signal is AbortSignal {
  return signal?.aborted === true;
}

/** The fields of HeadObject/GetObject output that {@link toObjectInfo} reads. */
export interface ObjectHeaders {
  readonly ETag?: string | undefined;
  readonly LastModified?: Date | undefined;
  readonly Metadata?: Record<string, string> | undefined;
  readonly ContentType?: string | undefined;
}

/** Builds an {@link ObjectInfo} from response headers; metadata keys are lower-cased (servers differ). */
export function toObjectInfo(key: string, out: ObjectHeaders, size: number | undefined): ObjectInfo {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.Metadata ?? {})) metadata[k.toLowerCase()] = v;
  return {
    key,
    size: size ?? 0,
    etag: normalizeEtag(out.ETag ?? ''),
    lastModified: out.LastModified ?? new Date(0),
    metadata,
    contentType: out.ContentType,
  };
}
