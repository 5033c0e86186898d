import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Topology } from '@shardsync/config';
import { findDataset } from '@shardsync/config';
import { appendWasUnsent, type EventSink } from '@shardsync/eventlog';
import {
  STAGING_PREFIX,
  createInlinePayload,
  datasetPrefix,
  encodeShardUpdate,
  formatVersion,
  quotedForMessage,
  userMetadataProblems,
  maxKeyBytesIn,
  tombstoneKeyOf,
  validateObjectKey,
  type HybridLogicalClock,
  type Payload,
  type ShardUpdate,
  type Version,
} from '@shardsync/events';
import { isSha256Hex, sha256Hex } from '@shardsync/integrity';
import { AccessDeniedError, NoSuchBucketError, type ObjectStore } from '@shardsync/objectstore';
import { isRetriable, type Logger } from '@shardsync/runtime';
import type { Budget } from '../admission.js';
import { TokenAuthenticator, type TokenGrant } from '../auth/tokens.js';
import type { ClockLease } from '../clock/lease.js';
import { ClockLeaseError, ProducerError } from '../errors.js';
import type { ProducerMetrics } from '../metrics.js';
import { bodySha256, startBody, whileSending } from './body.js';
import { MaybeAppendedError, toApiError } from './errors.js';
import type { Idempotency } from './idempotency.js';
import { parseAnnouncement } from './announcement.js';
import { announceIdentity, putIdentity } from './fingerprint.js';
import type { SourceLookup } from './source-stores.js';
import type { Accepted, AnnounceRequest, DeleteRequest, Ingest, PutRequest } from './types.js';

export interface IngestorOptions {
  /** Bodies up to this size travel inline in the event. */
  inlineMaxBytes: number;
  maxBodyBytes: number;
  /** How long a streamed body may send nothing while it is read (408 then). */
  bodyIdleTimeoutMs: number;
}

export interface IngestorDeps {
  topology: Topology;
  /** The datacenter this producer runs in. */
  datacenter: string;
  /** Its store, where large bodies are staged. */
  originStore: ObjectStore;
  /** Stores of any datacenter and bucket, for checking announced sources. */
  sources: SourceLookup;
  sink: EventSink;
  /** Issues versions, within `clockLease`. */
  clock: HybridLogicalClock;
  /** The clock's lease, whose renewal a tick that reached its bound waits for. */
  clockLease: Pick<ClockLease, 'whenRenewed'>;
  producerId: string;
  idempotency: Idempotency;
  /** Bodies streamed into the staging area at once (each holds parts in memory). */
  uploads: Budget;
  metrics: ProducerMetrics;
  logger: Logger;
  options: IngestorOptions;
}

type Unstamped<T> = T extends unknown ? Omit<T, 'version' | 'originDatacenter' | 'producerId' | 'producedAtMs'> : never;
/** An update before the producer stamps its version and origin. */
type UnstampedUpdate = Unstamped<ShardUpdate>;

/** An update with its version, encoded, not yet sent. */
interface StampedEvent extends ReturnType<typeof encodeShardUpdate> {
  readonly update: ShardUpdate;
}

/** The partition key: every event of one (dataset, key) lands in one partition, in order. */
export function partitionKey(dataset: string, key: string): string {
  return `${dataset}/${key}`;
}

/**
 * The producer's core: validates, stages large bodies, stamps a version and emits the event,
 * answering only once Kafka acknowledged it (acks=all).
 */
export class Ingestor implements Ingest {
  readonly #d: IngestorDeps;

  constructor(deps: IngestorDeps) {
    this.#d = deps;
  }

  async put(req: PutRequest): Promise<Accepted> {
    this.#checkTarget(req.dataset, req.key);
    // Before any byte is staged: metadata the event could not carry is the client's error, not a 500.
    const metadataProblems = userMetadataProblems(req.metadata);
    if (metadataProblems.length > 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `invalid metadata: ${metadataProblems.join('; ')}`);
    const declared = req.declaredSha256?.toLowerCase();
    if (declared !== undefined && !isSha256Hex(declared)) {
      throw new ProducerError('SHARDSYNC_INVALID_REQUEST', 'x-shardsync-sha256 must be 64 hexadecimal characters');
    }
    const identity = putIdentity(req.dataset, req.key, declared, req.contentLength, req.metadata);
    // A retry's body is read and hashed (it was sent anyway): another body under the same key is a
    // client's mistake to refuse, not a retry to answer as the first. One whose Content-Length
    // already differs from the first body's size is refused without reading it.
    const sameBody = async (first: Accepted) =>
      (req.contentLength === undefined || req.contentLength === first.size) &&
      (await bodySha256(this.#bodyOf(req), this.#d.options.maxBodyBytes, (n) => this.#d.metrics.bytesIn.inc(n))) === first.sha256;
    return this.#d.idempotency.run(req.grant.name, req.idempotencyKey, identity, async () => {
      const eventId = randomUUID();
      const staged = await this.#receiveBody(req, eventId, declared);
      const stagedKey = staged.payload.kind === 'staged' ? staged.payload.key : undefined;
      let event: StampedEvent;
      try {
        event = await this.#stamp({
          eventId,
          dataset: req.dataset,
          key: req.key,
          operation: 'PUT',
          size: staged.size,
          sha256: staged.sha256,
          payload: staged.payload,
          metadata: req.metadata,
        });
      } catch (err) {
        // No version (the clock lease refused one): nothing was sent, so no event can point at the body.
        if (stagedKey !== undefined) await this.#deleteStaged(stagedKey);
        throw err;
      }
      try {
        return await this.#send(event);
      } catch (err) {
        if (stagedKey !== undefined) await this.#cleanupStaged(stagedKey, err);
        throw err;
      }
    }, sameBody);
  }

  async delete(req: DeleteRequest): Promise<Accepted> {
    this.#checkTarget(req.dataset, req.key);
    return this.#d.idempotency.run(req.grant.name, req.idempotencyKey, `DELETE ${req.dataset}/${req.key}`, () =>
      this.#emit({ eventId: randomUUID(), dataset: req.dataset, key: req.key, operation: 'DELETE', size: 0, sha256: null, payload: null, metadata: {} }),
    );
  }

  async announce(req: AnnounceRequest): Promise<Accepted> {
    const a = parseAnnouncement(req.body);
    if (req.grant.datasets !== '*' && !req.grant.datasets.has(a.dataset)) {
      throw new ProducerError('SHARDSYNC_FORBIDDEN', `token "${req.grant.name}" may not write dataset ${quotedForMessage(a.dataset)}`);
    }
    this.#checkTarget(a.dataset, a.key);
    if (a.operation === 'put') this.#checkSourceGrant(req.grant, a.source);
    return this.#d.idempotency.run(req.grant.name, req.idempotencyKey, announceIdentity(a), async () => {
      if (a.operation === 'delete') {
        return this.#emit({ eventId: randomUUID(), dataset: a.dataset, key: a.key, operation: 'DELETE', size: 0, sha256: null, payload: null, metadata: {} });
      }
      const { source } = a;
      if (!this.#d.topology.datacenters.some((d) => d.name === source.datacenter)) {
        throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `source.datacenter "${source.datacenter}" is not in the topology`);
      }
      let info;
      try {
        info = await this.#d.sources.head(source.datacenter, source.bucket, source.key);
      } catch (err) {
        // The announcer named a bucket shardsync cannot read (another owner's, a policy that
        // leaves it out) or that is not there: the consumers could not copy it either. Its
        // mistake to fix, not a producer fault to alert on.
        if (err instanceof AccessDeniedError || err instanceof NoSuchBucketError) {
          throw new ProducerError('SHARDSYNC_SOURCE_MISMATCH', `source object ${source.bucket}/${source.key} in ${source.datacenter} cannot be read by shardsync: ${err.message}`, { cause: err });
        }
        throw toApiError(err, `the store of ${source.datacenter}`);
      }
      if (info === undefined) {
        throw new ProducerError('SHARDSYNC_SOURCE_MISMATCH', `source object ${source.bucket}/${source.key} does not exist in ${source.datacenter}`);
      }
      if (info.size !== a.size) {
        throw new ProducerError('SHARDSYNC_SOURCE_MISMATCH', `source object ${source.bucket}/${source.key} in ${source.datacenter} has ${info.size} bytes, not ${a.size}`);
      }
      return this.#emit({
        eventId: randomUUID(),
        dataset: a.dataset,
        key: a.key,
        operation: 'PUT',
        size: a.size,
        sha256: a.sha256,
        payload: { kind: 'staged', datacenter: source.datacenter, bucket: source.bucket, key: source.key },
        metadata: a.metadata,
      });
    });
  }

  /**
   * A source in shardsync's own bucket of a datacenter, under a dataset's prefix, is that
   * dataset's object: announcing it copies it into the announced dataset, where the token's
   * owner can read it, and the answer tells whether it exists and its size. So it may be named
   * only by a token granted that dataset. Checked before the store is asked.
   */
  #checkSourceGrant(grant: TokenGrant, source: { datacenter: string; bucket: string; key: string }): void {
    const endpoint = this.#d.topology.datacenters.find((d) => d.name === source.datacenter)?.s3.endpoint;
    const ours = this.#d.topology.datacenters.some((d) => d.s3.endpoint === endpoint && d.s3.bucket === source.bucket);
    if (!ours) return;
    const owner = this.#d.topology.datasets.find((d) => source.key.startsWith(datasetPrefix(d.name)));
    if (owner !== undefined && !TokenAuthenticator.allows(grant, owner.name)) {
      throw new ProducerError('SHARDSYNC_FORBIDDEN', `token "${grant.name}" may not announce source ${quotedForMessage(source.key)}: it is an object of dataset ${quotedForMessage(owner.name)}, which the token is not granted`);
    }
  }

  #checkTarget(dataset: string, key: string): void {
    if (findDataset(this.#d.topology, dataset) === undefined) {
      const known = this.#d.topology.datasets.map((d) => d.name).join(', ');
      throw new ProducerError('SHARDSYNC_UNKNOWN_DATASET', `dataset ${quotedForMessage(dataset)} is not in the topology; known datasets: ${known}`);
    }
    const check = validateObjectKey(key);
    // The message quotes the key already, shortened: the whole key may be a megabyte.
    if (!check.ok) throw new ProducerError('SHARDSYNC_INVALID_KEY', check.message);
    const bytes = Buffer.byteLength(key, 'utf8');
    const max = maxKeyBytesIn(dataset);
    if (bytes > max) {
      throw new ProducerError(
        'SHARDSYNC_INVALID_KEY',
        `key ${quotedForMessage(key)} is ${bytes} UTF-8 bytes; keys of dataset ${quotedForMessage(dataset)} may have at most ${max}: S3 keys are at most 1024 bytes, and the key's delete marker is stored as ${quotedForMessage(tombstoneKeyOf(dataset, '<key>'))}`,
      );
    }
  }

  async #receiveBody(req: PutRequest, eventId: string, declared: string | undefined): Promise<{ size: number; sha256: string; payload: Payload }> {
    const { inlineMaxBytes, maxBodyBytes } = this.#d.options;
    const start = await startBody(this.#bodyOf(req), inlineMaxBytes, maxBodyBytes, (n) => this.#d.metrics.bytesIn.inc(n));
    if (start.kind === 'complete') {
      const bytes = start.bytes;
      this.#d.metrics.bytesIn.inc(bytes.length);
      const sha256 = sha256Hex(bytes);
      if (declared !== undefined && declared !== sha256) {
        throw new ProducerError('SHARDSYNC_CHECKSUM_MISMATCH', `the body's SHA-256 is ${sha256}, not ${declared} as x-shardsync-sha256 says`);
      }
      return { size: bytes.length, sha256, payload: createInlinePayload(bytes, worthCompressing(bytes) ? 'GZIP' : 'NONE') };
    }
    // One key per event, never written again: the staging collector (reconciler) deletes keys by
    // age, which is safe only if a key it saw as old cannot have been refreshed since.
    const stagingKey = `${STAGING_PREFIX}events/${eventId}`;
    // Only a body still streaming in holds parts in memory while it is staged; a batch item's is
    // already whole, and its request is bounded by the batch budget.
    const release = Buffer.isBuffer(req.body) ? () => undefined : this.#d.uploads.take(1);
    try {
      const result = await this.#d.originStore.put(stagingKey, start.stream, {
        size: req.contentLength,
        expectedSha256: declared,
        metadata: declared === undefined ? {} : { 'shardsync-sha256': declared },
      });
      const { datacenter, bucket } = this.#d.originStore;
      return { size: result.size, sha256: result.sha256, payload: { kind: 'staged', datacenter, bucket, key: stagingKey } };
    } catch (err) {
      throw toApiError(err, `staging in ${this.#d.datacenter}`);
    } finally {
      release();
    }
  }

  /**
   * The request's body; one still streaming in fails with 408 when the client stops sending, and
   * with 503 when the producer's shutdown cuts it short (a staging upload reading it is then aborted).
   */
  #bodyOf(req: PutRequest): AsyncIterable<unknown> | Buffer {
    return Buffer.isBuffer(req.body) ? req.body : whileSending(req.body, this.#d.options.bodyIdleTimeoutMs, req.closing);
  }

  async #emit(fields: UnstampedUpdate): Promise<Accepted> {
    return this.#send(await this.#stamp(fields));
  }

  /** Gives an update its version and origin and encodes it; nothing is sent yet. */
  async #stamp(fields: UnstampedUpdate): Promise<StampedEvent> {
    let version: Version;
    try {
      version = this.#d.clock.tick();
    } catch (err) {
      version = await this.#tickAfterRenewal(err);
    }
    // The stamped fields first, then the spread: `{ ...fields, version }` (properties after a
    // spread) takes a slow path in V8 on Node 20, about 1 µs per object against 0.04 (measured).
    const update: ShardUpdate = {
      version,
      originDatacenter: this.#d.datacenter,
      producerId: this.#d.producerId,
      producedAtMs: Date.now(),
      ...fields,
    };
    const { value, headers } = encodeShardUpdate(update);
    return { update, value, headers };
  }

  /** Appends a stamped event to the topic; answers once Kafka acknowledged it. */
  async #send({ update, value, headers }: StampedEvent): Promise<Accepted> {
    const topic = this.#d.topology.kafka.topics.updates;
    const key = partitionKey(update.dataset, update.key);
    const timer = this.#d.metrics.kafkaSendSeconds.startTimer();
    try {
      await this.#d.sink.append(topic, [{ key, value, headers }]);
    } catch (err) {
      // A refusal (too large, not authorised) appended nothing and will not succeed when retried.
      if (appendWasUnsent(err) || !isRetriable(err)) throw toApiError(err, 'Kafka');
      throw new MaybeAppendedError({ topic, key, value: value.toString('base64'), headers }, acceptedOf(update), { cause: err });
    } finally {
      timer();
    }
    this.#d.metrics.eventsEmitted.inc({ operation: update.operation, payload: update.payload?.kind ?? 'none' });
    return acceptedOf(update);
  }

  /**
   * The clock reached the bound of its lease: wait for the renewal that tick started and try once
   * more. The renewal normally runs well before the bound, so this is the rare, slow path; a lease
   * that cannot be persisted ends here as 503.
   */
  async #tickAfterRenewal(failure: unknown): Promise<Version> {
    if (!(failure instanceof ClockLeaseError)) throw failure;
    await this.#d.clockLease.whenRenewed();
    try {
      return this.#d.clock.tick();
    } catch (err) {
      throw toApiError(err, 'the clock lease');
    }
  }

  /**
   * Deletes the staged body of an event that failed, but only when the event cannot be in Kafka.
   * A send that timed out or lost its connection may have been appended all the same; deleting
   * its body would leave consumers waiting for a source that never comes (then dead-lettering).
   * Such a body is left to the staging collector, like one of a producer that died mid-request.
   */
  async #cleanupStaged(key: string, failure: unknown): Promise<void> {
    if (!appendWasUnsent(failure)) {
      this.#d.logger.warn({ key }, 'the event of a staged payload may have reached Kafka despite the error; leaving the payload to the staging collector');
      return;
    }
    await this.#deleteStaged(key);
  }

  /** Deletes a staged body no event refers to; one that cannot be deleted now is left to the staging collector. */
  async #deleteStaged(key: string): Promise<void> {
    try {
      await this.#d.originStore.delete(key);
      this.#d.metrics.stagedCleanups.inc();
    } catch (err) {
      // The reconciler's staging collection deletes it once it is past SHARDSYNC_STAGING_RETENTION_MS.
      this.#d.logger.warn({ err, key }, 'could not delete a staged payload whose event failed');
    }
  }
}

function acceptedOf(update: ShardUpdate): Accepted {
  return { eventId: update.eventId, dataset: update.dataset, key: update.key, version: formatVersion(update.version), sha256: update.sha256, size: update.size };
}

/**
 * Gzip only pays off for text-like bodies of some size: tensors and compressed shards do not
 * shrink, and for small records the two zlib passes (probe, then compress) cost more CPU than the
 * bytes they save in Kafka (profiled: a fifth of the producer's time at 1 KiB puts).
 */
const MIN_COMPRESSIBLE_BYTES = 8 * 1024;

function worthCompressing(bytes: Buffer): boolean {
  if (bytes.length < MIN_COMPRESSIBLE_BYTES) return false;
  const sample = bytes.subarray(0, 4096);
  return gzipSync(sample, { level: 1 }).length < sample.length * 0.8;
}
