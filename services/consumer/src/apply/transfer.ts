import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { compareVersions, inflateInlinePayload, META, objectKeyOf, formatVersion, versionInMetadata, type PutShardUpdate, type StagedPayload, type Version } from '@shardsync/events';
import { hashStream } from '@shardsync/integrity';
import { SizeMismatchError, SourceStreamError, StoreUnavailableError, type ObjectStore, type WriteConditions } from '@shardsync/objectstore';
import { ApplyError, codeOf, conflictOnPrecondition } from './errors.js';
import type { TransferSlots } from './transfer-slots.js';

/** Finds the store of any datacenter and bucket (sources of referenced payloads). */
export type StoreLookup = (datacenter: string, bucket: string) => ObjectStore;

export interface TransferDeps {
  local: ObjectStore;
  storeFor: StoreLookup;
  /** Datacenters that hold the dataset, to fetch a version from when its staged copy is gone. */
  peersOf: (dataset: string) => Array<{ datacenter: string; bucket: string }>;
  /** Reports bytes as they flow, so the watchdog sees progress in long transfers. */
  onBytes: (n: number) => void;
  /** Bounds the referenced payloads transferred at once in the process (memory). */
  slots: TransferSlots;
}

export type TransferResult =
  | { mode: 'inline' | 'copy' | 'stream'; etag: string; bytes: number }
  /** A peer already holds a newer version: a later event of this key carries it, so this one can go. */
  | { mode: 'superseded' };

/**
 * The Content-Type to store, if any. Form encodings describe how a client sent the body (curl's
 * `--data-binary` default is application/x-www-form-urlencoded), not what the object is, and an
 * S3 server built on a servlet container (s3proxy) would read such a PUT body as form
 * parameters: the write then fails its Content-MD5 check, or stores an empty object.
 */
export function storedContentType(metadata: Readonly<Record<string, string>>): string | undefined {
  const type = metadata['content-type'];
  if (type === undefined || /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) return undefined;
  return type;
}

/** The metadata every applied object carries. */
export function objectMetadata(update: PutShardUpdate): Record<string, string> {
  return { ...update.metadata, [META.version]: formatVersion(update.version), [META.sha256]: update.sha256, [META.eventId]: update.eventId };
}

class ByteCounter extends Transform {
  readonly #onBytes: (n: number) => void;
  constructor(onBytes: (n: number) => void) {
    super();
    this.#onBytes = onBytes;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#onBytes(chunk.length);
    done(null, chunk);
  }
}

interface Source {
  datacenter: string;
  bucket: string;
  key: string;
  /** For a peer's copy of the object, the version it must carry to be this update's bytes. */
  requireVersion?: Version;
}

/**
 * Gets an update's bytes under its key in the local store, verified against its SHA-256 before
 * they become visible: inline bytes are put directly; a referenced body is copied server-side
 * when this store already holds it (after re-reading it to prove the digest), otherwise streamed
 * from the staged copy or from any peer that holds the same version.
 */
export async function transfer(update: PutShardUpdate, conditions: WriteConditions, deps: TransferDeps, signal?: AbortSignal): Promise<TransferResult> {
  const key = objectKeyOf(update.dataset, update.key);
  if (update.payload.kind === 'inline') {
    const bytes = inflateInlinePayload(update.payload);
    const metadata = objectMetadata(update);
    const contentType = storedContentType(update.metadata);
    const put = await conflictOnPrecondition(() => deps.local.put(key, bytes, { ...conditions, size: update.size, expectedSha256: update.sha256, metadata, contentType, signal }));
    deps.onBytes(bytes.length);
    return { etag: put.etag, bytes: bytes.length, mode: 'inline' };
  }
  const staged = update.payload;
  return deps.slots.run(() => transferReferenced(update, staged, key, conditions, deps, signal), signal);
}

async function transferReferenced(
  update: PutShardUpdate,
  staged: StagedPayload,
  key: string,
  conditions: WriteConditions,
  deps: TransferDeps,
  signal: AbortSignal | undefined,
): Promise<TransferResult> {
  const metadata = objectMetadata(update);
  const contentType = storedContentType(update.metadata);
  const failures: string[] = [];
  /** Some source may still serve the bytes later (missing, another version, unreadable now). */
  let retriable = false;
  /** Some source could not be asked or read (its store failed), so what it holds is unknown. */
  let unknown = false;
  /** Some source was read whole and its bytes are not the update's. */
  let mismatched = false;
  for (const source of sourcesFor(update, staged, deps)) {
    const where = `${source.datacenter}:${source.key}`;
    if (source.datacenter === deps.local.datacenter && source.bucket === deps.local.bucket) {
      const copied = await copyVerified(source, key, update, metadata, conditions, deps, signal);
      if (typeof copied !== 'string') return copied;
      failures.push(`${where}: ${copied}`);
      if (copied === 'not found') retriable = true;
      else mismatched = true;
      continue;
    }
    const opened = await openSource(source, update.size, deps, signal);
    if (opened.kind === 'superseded') return { mode: 'superseded' };
    if (opened.kind === 'mismatch') {
      failures.push(`${where}: ${opened.why}`);
      mismatched = true;
      continue;
    }
    if (opened.kind === 'unusable') {
      failures.push(`${where}: ${opened.why}`);
      retriable = true;
      if (!opened.absent) unknown = true;
      continue;
    }
    const { body, etag } = opened;
    const counted = body.pipe(new ByteCounter(deps.onBytes));
    body.on('error', (err) => counted.destroy(err));
    try {
      const put = await conflictOnPrecondition(() => deps.local.put(key, counted, { ...conditions, size: update.size, expectedSha256: update.sha256, sourceEtag: etag, metadata, contentType, signal }));
      return { etag: put.etag, bytes: update.size, mode: 'stream' };
    } catch (err) {
      // Anything but the source's bytes failing is this datacenter's store failing (down, slow,
      // its bucket missing), a conflict or an abort: no other source would do better, and a store
      // that is down must make the partition wait, not count against SHARDSYNC_SOURCE_WAIT_MS
      // and end in the dead-letter topic. A stalled source cannot pass for a slow local store:
      // the local requests carry bytes already read (a single PUT's whole body, whole parts), so
      // a source that stops sending ends in its own GET's idle timeout, a SourceStreamError here.
      if (!isFaultOfSourceBytes(err) || signal?.aborted === true) throw err;
      const code = codeOf(err);
      failures.push(`${where}: ${code}`);
      // Bytes that are not the update's (other digest, other length) are the short wait's case;
      // a stream that broke off is the source failing, which another attempt may get past.
      if (code === 'SHARDSYNC_CHECKSUM_MISMATCH' || err instanceof SizeMismatchError) {
        mismatched = true;
      } else {
        retriable = true;
        unknown = true;
      }
    } finally {
      // A failed put destroys what it reads (the counter), which only unpipes and pauses the
      // source body: left so, it would hold its socket to the peer until the idle timeout.
      if (!body.readableEnded) body.destroy();
    }
  }
  if (retriable && !unknown && mismatched) {
    // A source was read and its bytes are not the update's (a corrupted staged copy, or an
    // announcement whose SHA-256 is wrong), and every other source answered that it lacks the
    // version. Only a peer copying good bytes right now could still serve them, so this waits
    // SHARDSYNC_SOURCE_MISMATCH_WAIT_MS, not the long wait for a source that is unreachable:
    // a wrong announcement must not hold the partition for ten minutes. A peer that gets the
    // version later is reconciled.
    throw new ApplyError('SHARDSYNC_SOURCE_BYTES_MISMATCH', `the bytes of ${update.dataset}/${update.key} read so far do not match its SHA-256 and no other source holds it (${failures.join('; ')})`, { retriable: true });
  }
  if (retriable) {
    throw new ApplyError('SHARDSYNC_SOURCE_UNAVAILABLE', `no source of ${update.dataset}/${update.key} could be read yet (${failures.join('; ')})`, { retriable: true });
  }
  throw new ApplyError('SHARDSYNC_DIGEST_MISMATCH_ALL_SOURCES', `every source of ${update.dataset}/${update.key} has bytes whose SHA-256 is not ${update.sha256} (${failures.join('; ')})`, { retriable: false });
}

/**
 * How the local put reports that the bytes read from a source were bad: the source stream failed
 * or ended early, its length or its SHA-256 is not the update's. The next source may do better.
 */
function isFaultOfSourceBytes(err: unknown): boolean {
  return err instanceof SourceStreamError || err instanceof SizeMismatchError || codeOf(err) === 'SHARDSYNC_CHECKSUM_MISMATCH';
}

/**
 * `absent`: the source answered that it lacks the object or this version (not that it failed);
 * `mismatch`: it holds an object of another size, so its bytes cannot be the update's.
 */
type OpenedSource = { kind: 'open'; body: Readable; etag: string } | { kind: 'superseded' } | { kind: 'mismatch'; why: string } | { kind: 'unusable'; why: string; absent: boolean };

/**
 * Opens a remote source's body, or says why it cannot serve this update: missing, holding
 * another version, or failing (whatever the error, the next source is tried). `superseded`
 * when a peer already holds a newer version of the key.
 */
async function openSource(source: Source, size: number, deps: TransferDeps, signal: AbortSignal | undefined): Promise<OpenedSource> {
  try {
    const store = deps.storeFor(source.datacenter, source.bucket);
    const info = await store.head(source.key, { signal });
    if (info === undefined) return { kind: 'unusable', why: 'not found', absent: true };
    if (source.requireVersion !== undefined) {
      // Only a version that parses says anything: another tool's object may carry the field in a
      // format of its own, which as text can sort above every real version.
      const held = versionInMetadata(info.metadata);
      if (held !== undefined && compareVersions(held, source.requireVersion) > 0) return { kind: 'superseded' };
      if (held === undefined || compareVersions(held, source.requireVersion) !== 0) return { kind: 'unusable', why: 'holds another version', absent: true };
    }
    // Not worth a GET: a truncated staged copy, an announced source rewritten since.
    if (info.size !== size) return { kind: 'mismatch', why: `holds ${info.size} bytes, not ${size}` };
    const { body } = await store.get(source.key, { ifMatch: info.etag, signal });
    return { kind: 'open', body, etag: info.etag };
  } catch (err) {
    if (signal?.aborted === true) throw err;
    return { kind: 'unusable', why: codeOf(err), absent: false };
  }
}


function sourcesFor(update: PutShardUpdate, staged: StagedPayload, deps: TransferDeps): Source[] {
  const version = update.version;
  const peers = deps
    .peersOf(update.dataset)
    .filter((p) => !(p.datacenter === deps.local.datacenter && p.bucket === deps.local.bucket))
    .map((p) => ({ datacenter: p.datacenter, bucket: p.bucket, key: objectKeyOf(update.dataset, update.key), requireVersion: version }));
  const stagedSource = { datacenter: staged.datacenter, bucket: staged.bucket, key: staged.key };
  // A local staged copy first (no transfer at all), then the staged copy, then peers.
  return [stagedSource, ...peers];
}

/**
 * Server-side copy of a body this store already holds, but only after re-reading it proves its
 * SHA-256: a staged copy corrupted on disk must never become visible under the key.
 * Says why not when the source is missing or its bytes do not match; a failure of the store
 * itself is thrown (the apply is retried: the partition waits for its store).
 */
async function copyVerified(
  source: Source,
  key: string,
  update: PutShardUpdate,
  metadata: Record<string, string>,
  conditions: WriteConditions,
  deps: TransferDeps,
  signal: AbortSignal | undefined,
): Promise<TransferResult | 'not found' | 'digest mismatch'> {
  // Errors of this store (down, slow) are thrown: they are not the staged copy's fault.
  const info = await deps.local.head(source.key, { signal });
  if (info === undefined) return 'not found';
  let body: Readable;
  try {
    ({ body } = await deps.local.get(source.key, { ifMatch: info.etag, signal }));
  } catch (err) {
    // Deleted or rewritten since the head: as good as not there.
    const code = codeOf(err);
    if (code === 'SHARDSYNC_OBJECT_NOT_FOUND' || code === 'SHARDSYNC_PRECONDITION_FAILED') return 'not found';
    throw err;
  }
  let digest;
  try {
    // Reading many GiB back takes minutes: each chunk tells the watchdog the apply is alive.
    digest = await hashStream(reportingBytes(body, deps.onBytes));
  } catch (err) {
    if (signal?.aborted === true) throw err;
    // The body's stream is not classified by the store (a reset, an idle timeout): this store
    // failing, which is worth another attempt, not a reason to dead-letter.
    const why = err instanceof Error ? err.message : String(err);
    throw new StoreUnavailableError(`reading the staged copy ${source.key} back from ${deps.local.datacenter} broke off: ${why}`, { cause: err });
  }
  if (digest.sha256 !== update.sha256 || digest.size !== update.size) return 'digest mismatch';
  let copied;
  try {
    copied = await conflictOnPrecondition(() =>
      deps.local.copy(source.key, key, { ...conditions, metadata, contentType: storedContentType(update.metadata), sourceIfMatch: info.etag, signal, onProgress: deps.onBytes }),
    );
  } catch (err) {
    // Deleted since it was read back: as good as not there.
    if (codeOf(err) === 'SHARDSYNC_OBJECT_NOT_FOUND') return 'not found';
    throw err;
  }
  return { etag: copied.etag, bytes: update.size, mode: 'copy' };
}

/** The chunks of `body`, each reported to `onBytes` as it is consumed. */
async function* reportingBytes(body: Readable, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    onBytes(chunk.length);
    yield chunk;
  }
}

