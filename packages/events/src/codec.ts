import { InvalidEventError, UndecodableEventError, UnknownSchemaError } from './errors.js';
import { bundledSchemaRegistry, type SchemaRegistry } from './registry.js';
import { INLINE_PAYLOAD_NAME, STAGED_PAYLOAD_NAME } from './schema.js';
import type { Compression, Operation, Payload, ShardUpdate } from './types.js';
import { shardUpdateProblems } from './validate.js';
import type { Version } from './version.js';

/** Kafka header carrying the writer schema's fingerprint (see `schemaFingerprint`). */
export const SCHEMA_HEADER = 'shardsync-schema';
/** Kafka header carrying the event id, so tools can name an event without decoding it. */
export const EVENT_ID_HEADER = 'shardsync-event-id';
export const CONTENT_TYPE_HEADER = 'content-type';
/** Content type of an encoded ShardUpdate: Avro binary, no container or framing. */
export const SHARD_UPDATE_CONTENT_TYPE = 'application/vnd.shardsync.shard-update+avro';

/** A ShardUpdate ready for the event log. */
export interface EncodedShardUpdate {
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/** Message headers as Kafka clients hand them over (kafkajs `IHeaders` fits). */
export type EventHeaders = Readonly<Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>>;

/** The ShardUpdate record as avsc reads and writes it (payload union wrapped by branch name). */
interface AvroShardUpdate {
  eventId: string;
  dataset: string;
  key: string;
  operation: Operation;
  version: Version;
  size: number;
  sha256: string | null;
  payload: null | { [INLINE_PAYLOAD_NAME]?: AvroInline; [STAGED_PAYLOAD_NAME]?: AvroStaged };
  originDatacenter: string;
  producerId: string;
  producedAtMs: number;
  metadata: Record<string, string>;
}
interface AvroInline {
  bytes: Buffer;
  compression: Compression;
  uncompressedSize: number;
}
interface AvroStaged {
  datacenter: string;
  bucket: string;
  key: string;
}

/**
 * Validates `update` and encodes it with the current schema. Throws {@link InvalidEventError}
 * listing every broken rule, so a bad event is refused by its producer instead of being
 * dead-lettered by every consumer.
 */
export function encodeShardUpdate(update: ShardUpdate, registry: SchemaRegistry = bundledSchemaRegistry()): EncodedShardUpdate {
  const problems = shardUpdateProblems(update);
  if (problems.length > 0) throw new InvalidEventError(problems, `shard update ${update.dataset}/${update.key}`);
  const record = toAvro(update);
  const schemaErrors: string[] = [];
  const valid = registry.reader.isValid(record, {
    errorHook: (path: string[], value: unknown) => schemaErrors.push(`${path.join('.')}: ${JSON.stringify(value)} does not fit the schema`),
  });
  if (!valid) throw new InvalidEventError(schemaErrors, `shard update ${update.dataset}/${update.key}`);
  return {
    value: registry.reader.toBuffer(record),
    headers: {
      [SCHEMA_HEADER]: registry.readerFingerprint,
      [CONTENT_TYPE_HEADER]: SHARD_UPDATE_CONTENT_TYPE,
      [EVENT_ID_HEADER]: update.eventId,
    },
  };
}

/**
 * Decodes a message: finds the writer schema by the {@link SCHEMA_HEADER} fingerprint, resolves
 * it to the current schema (so events from older producers decode, with defaults for fields
 * they lacked), then checks the contract's rules.
 *
 * Throws {@link UnknownSchemaError} for a fingerprint this build does not know,
 * {@link UndecodableEventError} for missing headers or bytes that are not that schema's Avro,
 * and {@link InvalidEventError} for a decoded event that breaks a rule. None is retriable.
 */
export function decodeShardUpdate(
  value: Buffer | Uint8Array | null | undefined,
  headers: EventHeaders | undefined,
  registry: SchemaRegistry = bundledSchemaRegistry(),
): ShardUpdate {
  if (value === null || value === undefined) throw new UndecodableEventError('message has no value (a Kafka tombstone?); shard updates always carry one');
  const fingerprint = header(headers, SCHEMA_HEADER);
  if (fingerprint === undefined) {
    throw new UndecodableEventError(`message has no "${SCHEMA_HEADER}" header, so its schema is unknown; was it produced by shardsync?`);
  }
  const contentType = header(headers, CONTENT_TYPE_HEADER);
  if (contentType !== undefined && contentType !== SHARD_UPDATE_CONTENT_TYPE) {
    throw new UndecodableEventError(`message content type is "${contentType}", expected "${SHARD_UPDATE_CONTENT_TYPE}"`);
  }
  const writer = registry.lookup(fingerprint);
  if (writer === undefined) throw new UnknownSchemaError(fingerprint, registry.fingerprints.length);
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  let record: AvroShardUpdate;
  try {
    // Cast at the trust boundary: avsc has just checked the bytes against the reader schema,
    // which AvroShardUpdate mirrors.
    record = registry.reader.fromBuffer(bytes, writer.resolver) as AvroShardUpdate;
  } catch (err) {
    throw new UndecodableEventError(`message is not a valid ShardUpdate written with schema ${writer.label} (${fingerprint}): ${(err as Error).message}`, err);
  }
  const update = fromAvro(record);
  const problems = shardUpdateProblems(update);
  if (problems.length > 0) throw new InvalidEventError(problems, `shard update ${update.dataset}/${update.key} (event ${update.eventId})`);
  return update;
}

function header(headers: EventHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? (raw as readonly (Buffer | string)[])[0] : (raw as Buffer | string | undefined);
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

function toAvro(update: ShardUpdate): AvroShardUpdate {
  const { version, payload } = update;
  return {
    eventId: update.eventId,
    dataset: update.dataset,
    key: update.key,
    operation: update.operation,
    version: { physicalMs: version.physicalMs, logical: version.logical, producerId: version.producerId },
    size: update.size,
    sha256: update.sha256,
    payload: payloadToAvro(payload),
    originDatacenter: update.originDatacenter,
    producerId: update.producerId,
    producedAtMs: update.producedAtMs,
    metadata: { ...update.metadata },
  };
}

function payloadToAvro(payload: Payload | null): AvroShardUpdate['payload'] {
  if (payload === null) return null;
  if (payload.kind === 'inline') {
    return { [INLINE_PAYLOAD_NAME]: { bytes: payload.bytes, compression: payload.compression, uncompressedSize: payload.uncompressedSize } };
  }
  return { [STAGED_PAYLOAD_NAME]: { datacenter: payload.datacenter, bucket: payload.bucket, key: payload.key } };
}

function fromAvro(r: AvroShardUpdate): ShardUpdate {
  // Plain objects rather than avsc's record instances, so updates compare, spread and log cleanly.
  const common = {
    eventId: r.eventId,
    dataset: r.dataset,
    key: r.key,
    version: { physicalMs: r.version.physicalMs, logical: r.version.logical, producerId: r.version.producerId },
    originDatacenter: r.originDatacenter,
    producerId: r.producerId,
    producedAtMs: r.producedAtMs,
    metadata: { ...r.metadata },
  };
  // The operation's fields before the spread: properties after a spread take a slow path in V8
  // on Node 20 (about 1 µs per object), paid for every event a consumer decodes. The
  // discriminated union is asserted here and verified by shardUpdateProblems right after.
  return { operation: r.operation, size: r.size, sha256: r.sha256, payload: payloadFromAvro(r.payload), ...common } as ShardUpdate;
}

function payloadFromAvro(p: AvroShardUpdate['payload']): Payload | null {
  if (p === null) return null;
  const inline = p[INLINE_PAYLOAD_NAME];
  if (inline !== undefined) {
    // Copy so the update does not pin (or alias) the whole Kafka message buffer.
    return { kind: 'inline', bytes: Buffer.from(inline.bytes), compression: inline.compression, uncompressedSize: inline.uncompressedSize };
  }
  const staged = p[STAGED_PAYLOAD_NAME];
  if (staged !== undefined) return { kind: 'staged', datacenter: staged.datacenter, bucket: staged.bucket, key: staged.key };
  throw new UndecodableEventError(`payload has an unknown union branch: ${Object.keys(p).join(', ')}`);
}
