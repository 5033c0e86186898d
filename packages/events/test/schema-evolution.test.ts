import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  bundledSchemaRegistry,
  compileSchema,
  decodeShardUpdate,
  encodeShardUpdate,
  IncompatibleSchemaError,
  readCurrentSchema,
  readHistoricSchemas,
  SCHEMA_HEADER,
  schemaFingerprint,
  SchemaRegistry,
  SHARD_UPDATE_HISTORY_URL,
  UnknownSchemaError,
} from '../src/index.js';
import { makePut } from './fixtures.js';

interface RecordSchema {
  fields: { name: string; type: unknown; default?: unknown }[];
  [k: string]: unknown;
}

function historic(version: number): RecordSchema {
  return JSON.parse(readFileSync(new URL(`ShardUpdate.v${version}.avsc`, SHARD_UPDATE_HISTORY_URL), 'utf8')) as RecordSchema;
}

/** The Avro record a v1 producer would have written (no metadata field). */
function v1Record(): Record<string, unknown> {
  const { metadata: _dropped, payload, ...rest } = makePut();
  if (payload.kind !== 'inline') throw new Error('fixture must be inline');
  const { kind: _kind, ...inline } = payload;
  return { ...rest, payload: { 'io.shardsync.events.InlinePayload': inline } };
}

describe('schema evolution', () => {
  it('decodes bytes written with the v1 schema, filling the field v1 lacked with its default', () => {
    expect(historic(1).fields.map((f) => f.name)).not.toContain('metadata');
    const v1 = compileSchema(historic(1), 'v1');
    const record = v1Record();
    const decoded = decodeShardUpdate(v1.toBuffer(record), { [SCHEMA_HEADER]: schemaFingerprint(v1) });
    expect(decoded.metadata).toEqual({});
    expect(decoded).toMatchObject({ eventId: record['eventId'], key: record['key'], operation: 'PUT' });
  });

  it('ships every released schema in history/, the current one included', () => {
    const registry = bundledSchemaRegistry();
    const history = readHistoricSchemas();
    expect(history.map((h) => h.label)).toEqual(['ShardUpdate.v1.avsc', 'ShardUpdate.v2.avsc']);
    for (const h of history) expect(registry.lookup(schemaFingerprint(compileSchema(h.schema)))).toBeDefined();
    // Changing ShardUpdate.avsc without copying it to history/ as the next version fails here.
    const current = schemaFingerprint(compileSchema(readCurrentSchema().schema));
    const latest = history.at(-1);
    expect(latest && schemaFingerprint(compileSchema(latest.schema))).toBe(current);
    expect(registry.readerFingerprint).toBe(current);
  });

  it('keeps the fingerprint when only documentation changes, since it hashes the canonical form', () => {
    const documented = { ...historic(2), doc: 'reworded' };
    expect(schemaFingerprint(compileSchema(documented))).toBe(bundledSchemaRegistry().readerFingerprint);
  });

  it('refuses, at registration, a writer schema the current schema cannot read', () => {
    const incompatible = historic(2);
    incompatible.fields = incompatible.fields.map((f) => (f.name === 'size' ? { ...f, type: 'string' } : f));
    const registry = new SchemaRegistry(historic(2));
    expect(() => registry.register(incompatible, 'broken')).toThrow(IncompatibleSchemaError);
    expect(() => registry.register(incompatible, 'broken')).toThrow(/broken .* cannot be read with the current schema/);
  });

  it('refuses a reader that adds a field without a default, because old events could not decode', () => {
    const reader = historic(2);
    reader.fields = [...reader.fields, { name: 'priority', type: 'int' }];
    const registry = new SchemaRegistry(reader);
    expect(() => registry.register(historic(1), 'v1')).toThrow(IncompatibleSchemaError);
  });

  it('dead-letters events from a newer producer until that schema is known, then decodes them', () => {
    const v3 = historic(2);
    v3.fields = [...v3.fields, { name: 'priority', type: 'int', default: 0 }];
    const v3Type = compileSchema(v3, 'v3');
    const put = makePut();
    const { value: v2Bytes } = encodeShardUpdate(put);
    const reader = bundledSchemaRegistry().reader;
    const value = v3Type.toBuffer({ ...reader.fromBuffer(v2Bytes), priority: 5 });
    const headers = { [SCHEMA_HEADER]: schemaFingerprint(v3Type) };
    expect(() => decodeShardUpdate(value, headers)).toThrow(UnknownSchemaError);

    const upgraded = new SchemaRegistry(readCurrentSchema().schema);
    upgraded.register(v3, 'v3');
    expect(decodeShardUpdate(value, headers, upgraded)).toEqual(put);
  });

  it('is readable by plain avsc from the committed .avsc file, with no shardsync code', () => {
    const type = avro.Type.forSchema(readCurrentSchema().schema as avro.Schema);
    const { value } = encodeShardUpdate(makePut());
    expect(type.fromBuffer(value)).toHaveProperty('dataset', 'llama-70b');
  });
});
