import { readdirSync, readFileSync } from 'node:fs';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { boundedMapsHook } from './bounded-maps.js';
import { IncompatibleSchemaError } from './errors.js';

// Both src/ and dist/ sit one level below the package root, so the same relative URL finds the
// committed .avsc files whether this runs from TypeScript sources or compiled output.
const SCHEMA_DIR = new URL('../schema/', import.meta.url);

/** The current ShardUpdate schema file, which producers write with. */
export const SHARD_UPDATE_SCHEMA_URL = new URL('ShardUpdate.avsc', SCHEMA_DIR);

/** Every released ShardUpdate schema, `ShardUpdate.v<N>.avsc`, including the current one. */
export const SHARD_UPDATE_HISTORY_URL = new URL('history/', SCHEMA_DIR);

/** Fully qualified Avro names of the payload union branches (how avsc keys wrapped unions). */
export const INLINE_PAYLOAD_NAME = 'io.shardsync.events.InlinePayload';
export const STAGED_PAYLOAD_NAME = 'io.shardsync.events.StagedPayload';

/** A schema as read from a file, with where it came from for error messages. */
export interface SchemaSource {
  readonly label: string;
  readonly schema: object;
}

/**
 * Compiles an Avro schema with the options every part of shardsync must share. `wrapUnions:
 * 'auto'` leaves `["null", "string"]` unwrapped but wraps the payload union (two records are
 * ambiguous), so the codec maps between that shape and the TypeScript types explicitly. Maps are
 * compiled so that a corrupt block count cannot make decoding spin (see `bounded-maps.ts`).
 */
export function compileSchema(schema: object, label = 'schema'): Type {
  try {
    return avro.Type.forSchema(schema as Schema, { wrapUnions: 'auto', typeHook: boundedMapsHook });
  } catch (err) {
    throw new IncompatibleSchemaError(`${label} is not a valid Avro schema: ${(err as Error).message}`, err);
  }
}

/**
 * SHA-256 of the schema's Avro Parsing Canonical Form, lowercase hex. Doc strings and defaults
 * are not part of the canonical form, so editing them does not change the fingerprint.
 */
export function schemaFingerprint(type: Type): string {
  return type.fingerprint('sha256').toString('hex');
}

function readSchemaFile(url: URL): SchemaSource {
  const label = decodeURIComponent(url.pathname.split('/').pop() ?? url.pathname);
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (err) {
    throw new IncompatibleSchemaError(`cannot read schema file ${url.pathname}: ${(err as Error).message}; is the package's schema/ directory shipped?`, err);
  }
  try {
    return { label, schema: JSON.parse(text) as object };
  } catch (err) {
    throw new IncompatibleSchemaError(`schema file ${url.pathname} is not valid JSON: ${(err as Error).message}`, err);
  }
}

/** The current schema, as committed in `schema/ShardUpdate.avsc`. */
export function readCurrentSchema(): SchemaSource {
  return readSchemaFile(SHARD_UPDATE_SCHEMA_URL);
}

/** All released schemas from `schema/history/`, oldest first (ordered by the `v<N>` in the name). */
export function readHistoricSchemas(): SchemaSource[] {
  const versioned = readdirSync(SHARD_UPDATE_HISTORY_URL)
    .map((name) => ({ name, match: /^ShardUpdate\.v(\d+)\.avsc$/.exec(name) }))
    .filter((f): f is { name: string; match: RegExpExecArray } => f.match !== null)
    .sort((a, b) => Number(a.match[1]) - Number(b.match[1]));
  return versioned.map((f) => readSchemaFile(new URL(f.name, SHARD_UPDATE_HISTORY_URL)));
}
