import { InvalidEventError } from './errors.js';
import { validateDatasetName, validateObjectKey } from './keys.js';
import { MAX_INLINE_PAYLOAD_BYTES } from './payload.js';
import type { Payload, ShardUpdate } from './types.js';
import { producerIdProblem, versionProblems } from './version.js';

/**
 * S3 caps user metadata at 2 KB per object; the rest is left for shardsync's own keys
 * (`shardsync-version`, `shardsync-sha256`, `shardsync-event-id`).
 */
export const MAX_USER_METADATA_BYTES = 1536;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// Lowercase letters, digits and "-" only: metadata keys travel as HTTP header names, S3 lowercases
// them, and common proxies drop headers with "_".
const METADATA_KEY = /^[a-z0-9][a-z0-9-]{0,127}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const COMPRESSIONS = new Set(['NONE', 'GZIP', 'BROTLI']);

function isNonNegativeInteger(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Every rule of the contract that `update` breaks, one message per rule; empty when valid.
 * Checks what Avro cannot express: a PUT has a sha256 and a payload, a DELETE has neither,
 * inline sizes agree, keys and names are valid, metadata fits S3.
 */
export function shardUpdateProblems(update: ShardUpdate): string[] {
  const p: string[] = [];
  if (typeof update.eventId !== 'string' || !UUID.test(update.eventId)) p.push(`eventId must be a UUID, got ${JSON.stringify(update.eventId)}`);
  const dataset = validateDatasetName(update.dataset);
  if (!dataset.ok) p.push(dataset.message);
  const key = validateObjectKey(update.key);
  if (!key.ok) p.push(key.message);
  p.push(...versionProblems(update.version));
  if (!nonEmpty(update.originDatacenter)) p.push('originDatacenter must be a non-empty string');
  const idProblem = producerIdProblem(update.producerId);
  if (idProblem !== undefined) p.push(`producerId ${idProblem}`);
  if (!isNonNegativeInteger(update.producedAtMs)) p.push(`producedAtMs must be a non-negative integer, got ${String(update.producedAtMs)}`);
  p.push(...userMetadataProblems(update.metadata));

  if (update.operation === 'PUT') {
    if (!isNonNegativeInteger(update.size)) p.push(`size must be a non-negative integer of bytes, got ${String(update.size)}`);
    if (typeof update.sha256 !== 'string' || !SHA256_HEX.test(update.sha256)) {
      p.push(`a PUT needs sha256 as 64 lowercase hex characters, got ${JSON.stringify(update.sha256)}`);
    }
    if (update.payload === null) p.push('a PUT needs a payload (inline bytes or a staged object)');
    else p.push(...payloadProblems(update.payload, update.size));
  } else if (update.operation === 'DELETE') {
    // Widened on purpose: the type says these are 0/null, this checks what actually arrived.
    const { size, sha256, payload } = update as { size: unknown; sha256: unknown; payload: unknown };
    if (size !== 0) p.push(`a DELETE has size 0, got ${String(size)}`);
    if (sha256 !== null) p.push('a DELETE has no sha256 (must be null)');
    if (payload !== null) p.push('a DELETE has no payload (must be null)');
  } else {
    p.push(`operation must be PUT or DELETE, got ${JSON.stringify((update as { operation: unknown }).operation)}`);
  }
  return p;
}

function payloadProblems(payload: Payload, size: number): string[] {
  if (payload.kind === 'staged') {
    const missing = (['datacenter', 'bucket', 'key'] as const).filter((f) => !nonEmpty(payload[f]));
    return missing.map((f) => `staged payload ${f} must be a non-empty string`);
  }
  if (payload.kind !== 'inline') return [`payload kind must be "inline" or "staged", got ${JSON.stringify((payload as { kind: unknown }).kind)}`];
  const p: string[] = [];
  if (!COMPRESSIONS.has(payload.compression)) p.push(`inline payload compression must be NONE, GZIP or BROTLI, got ${JSON.stringify(payload.compression)}`);
  if (!Buffer.isBuffer(payload.bytes)) p.push('inline payload bytes must be a Buffer');
  if (!(payload.uncompressedSize <= MAX_INLINE_PAYLOAD_BYTES)) {
    p.push(`inline payload uncompressedSize (${String(payload.uncompressedSize)}) is over ${MAX_INLINE_PAYLOAD_BYTES} bytes; larger objects are staged`);
  } else if (payload.uncompressedSize !== size) {
    p.push(`inline payload uncompressedSize (${String(payload.uncompressedSize)}) must equal the update size (${size})`);
  } else if (payload.compression === 'NONE' && Buffer.isBuffer(payload.bytes) && payload.bytes.length !== size) {
    p.push(`uncompressed inline payload is ${payload.bytes.length} bytes but the update size is ${size}`);
  }
  return p;
}

/** What is wrong with an update's user metadata (names, values, total size); empty when it is fine. */
export function userMetadataProblems(metadata: Readonly<Record<string, string>>): string[] {
  if (typeof metadata !== 'object' || (metadata as unknown) === null) return ['metadata must be an object of strings (use {} for none)'];
  const p: string[] = [];
  let bytes = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(name)) p.push(`metadata key ${JSON.stringify(name)} must be lowercase letters, digits and "-" (at most 128)`);
    else if (name.startsWith('shardsync-')) p.push(`metadata key ${JSON.stringify(name)} is reserved: "shardsync-*" keys are written by shardsync itself`);
    if (typeof value !== 'string' || !PRINTABLE_ASCII.test(value)) p.push(`metadata value of ${JSON.stringify(name)} must be printable ASCII (it travels as an HTTP header)`);
    else bytes += name.length + value.length;
  }
  if (bytes > MAX_USER_METADATA_BYTES) p.push(`metadata is ${bytes} bytes; the limit is ${MAX_USER_METADATA_BYTES} (S3 allows 2 KB including shardsync's own keys)`);
  return p;
}

/** Throws {@link InvalidEventError} listing every broken rule unless `update` is valid. */
export function assertValidShardUpdate(update: ShardUpdate): void {
  const problems = shardUpdateProblems(update);
  if (problems.length > 0) throw new InvalidEventError(problems, `shard update ${update.dataset}/${update.key}`);
}
