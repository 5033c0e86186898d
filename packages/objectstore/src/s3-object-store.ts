import type { Agent } from 'node:http';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client, withAbortSignal, type S3StoreConfig } from './client.js';
import { ConditionalWrites, missingAsPreconditionFailure, type ConditionalWriteSupport } from './conditional.js';
import { NoSuchBucketError, ObjectNotFoundError, UnexpectedStoreError } from './errors.js';
import { normalizeEtag } from './etag.js';
import { compileObjectStoreOptions, type CompiledObjectStoreOptions, type ObjectStoreOptions } from './options.js';
import { S3Context, toObjectInfo } from './s3-context.js';
import { s3Copy } from './s3-copy.js';
import { listFlat, listFolders } from './s3-list.js';
import { s3Put } from './s3-put.js';
import { s3AbortUpload, s3ListUploads } from './s3-uploads.js';
import type {
  AbortUploadOptions, CopyOptions, CopyResult, DeleteOptions, GetOptions, GetResult, HeadOptions, ListEntry, ListOptions, ListUploadsOptions, ObjectInfo, ObjectStore,
  PutOptions, PutResult, UploadEntry,
} from './types.js';
import { normalizeConditions, validateKey, validateListOptions, validateListUploadsOptions, validateRange, validateUpload } from './validate.js';

/** Sockets of a store's keep-alive pool, for metrics and for tests that check nothing leaks. */
export interface ConnectionStats {
  /** Sockets serving a request (or holding an unread response body). */
  readonly activeSockets: number;
  /** Keep-alive sockets waiting for the next request. */
  readonly idleSockets: number;
  /** Requests waiting for a socket because `maxSockets` are busy. */
  readonly queuedRequests: number;
}

/** {@link ObjectStore} over one bucket of an S3-compatible server, through `@aws-sdk/client-s3`. */
export class S3ObjectStore implements ObjectStore {
  readonly datacenter: string;
  readonly bucket: string;
  readonly endpoint: string;
  readonly options: CompiledObjectStoreOptions;
  readonly #client: S3Client;
  readonly #agent: Agent;
  readonly #ctx: S3Context;
  readonly #conditional: ConditionalWrites;
  #closing: Promise<void> | undefined;

  /** Builds the client; throws `ObjectStoreConfigError` for bad options, endpoints or missing credential variables. */
  constructor(config: S3StoreConfig, options: ObjectStoreOptions = {}) {
    this.options = compileObjectStoreOptions(options);
    const { client, agent } = createS3Client(config, this.options);
    this.datacenter = config.datacenter;
    this.bucket = config.bucket;
    this.endpoint = config.endpoint;
    this.#client = client;
    this.#agent = agent;
    this.#ctx = new S3Context({ client, datacenter: config.datacenter, endpoint: config.endpoint, bucket: config.bucket, options: this.options });
    this.#conditional = new ConditionalWrites(this.#ctx);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.#ctx.call('HeadBucket', undefined, signal, (abortSignal) => this.#client.send(withAbortSignal(new HeadBucketCommand({ Bucket: this.bucket }), abortSignal)));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        throw new NoSuchBucketError(`bucket "${this.bucket}" does not exist at ${this.endpoint} (datacenter ${this.datacenter}); create it or fix the topology`, { cause: err, statusCode: 404 });
      }
      throw err;
    }
  }

  async head(key: string, options: HeadOptions = {}): Promise<ObjectInfo | undefined> {
    validateKey(key);
    return this.#ctx.head(key, options.signal);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    validateKey(key);
    const { range, signal } = options;
    if (range !== undefined) validateRange(range);
    const out = await this.#ctx.call('GetObject', key, signal, (abortSignal) =>
      this.#client.send(
        withAbortSignal(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: range === undefined ? undefined : `bytes=${range.start}-${range.end}`,
            IfMatch: options.ifMatch === undefined ? undefined : normalizeEtag(options.ifMatch),
          }),
          abortSignal,
        ),
      ),
    );
    const body = out.Body;
    if (!(body instanceof Readable)) {
      (body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new UnexpectedStoreError(`GetObject of key ${JSON.stringify(key)} returned a body that is not a Node.js stream`);
    }
    try {
      const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
      return { info: toObjectInfo(key, out, total === undefined ? out.ContentLength : Number(total)), body };
    } catch (err) {
      body.destroy(); // never leave a socket behind a body nobody will read
      throw err;
    }
  }

  put(key: string, body: Readable | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return s3Put(this.#ctx, this.#conditional, key, body, options);
  }

  copy(sourceKey: string, destinationKey: string, options: CopyOptions = {}): Promise<CopyResult> {
    return s3Copy(this.#ctx, this.#conditional, sourceKey, destinationKey, options);
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    validateKey(key);
    const conditions = normalizeConditions({ ifMatch: options.ifMatch });
    const headers = await this.#conditional.prepare(key, conditions, 'DeleteObject', options.signal);
    try {
      await this.#ctx.call('DeleteObject', key, options.signal, (abortSignal) =>
        this.#client.send(withAbortSignal(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: headers.IfMatch }), abortSignal)),
      );
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
      // S3 answers 204 for a missing key; a server that answers 404 means the same, unless an ETag was required.
      if (conditions.ifMatch !== undefined) throw missingAsPreconditionFailure(err, { IfMatch: conditions.ifMatch });
    }
  }

  list(options: ListOptions = {}): AsyncGenerator<ListEntry, void, undefined> {
    const pageSize = validateListOptions(options, this.options.listPageSize);
    const target = { client: this.#client, ctx: this.#ctx, bucket: this.bucket, datacenter: this.datacenter, options: this.options };
    return options.order === 'any' && this.options.listing === 'folders'
      ? listFolders(target, options.prefix, pageSize, this.options.listConcurrency, options.signal)
      : listFlat(target, options.prefix, options.startAfter, pageSize, options.signal);
  }

  listUploads(options: ListUploadsOptions = {}): AsyncGenerator<UploadEntry, void, undefined> {
    const pageSize = validateListUploadsOptions(options, this.options.listPageSize);
    return s3ListUploads(this.#ctx, options.prefix, pageSize, options.signal);
  }

  async abortUpload(key: string, uploadId: string, options: AbortUploadOptions = {}): Promise<boolean> {
    validateUpload(key, uploadId);
    return s3AbortUpload(this.#ctx, key, uploadId, options.signal);
  }

  /** How conditional writes are enforced, per kind of request (in `auto` mode the first call probes the server). */
  conditionalWriteSupport(signal?: AbortSignal): Promise<ConditionalWriteSupport> {
    return this.#conditional.support(signal);
  }

  connectionStats(): ConnectionStats {
    const count = (pool: NodeJS.ReadOnlyDict<readonly unknown[]>): number => Object.values(pool).reduce((n, list) => n + (list?.length ?? 0), 0);
    return { activeSockets: count(this.#agent.sockets), idleSockets: count(this.#agent.freeSockets), queuedRequests: count(this.#agent.requests) };
  }

  /** Destroys the client and its sockets. Idempotent; in-flight requests fail. */
  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => {
      this.#ctx.close();
      try {
        this.#client.destroy();
      } finally {
        this.#agent.destroy();
      }
    });
    return this.#closing;
  }
}
