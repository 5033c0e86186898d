import { describe, expect, it } from 'vitest';
import {
  bundledSchemaRegistry,
  createInlinePayload,
  decodeShardUpdate,
  encodeShardUpdate,
  inflateInlinePayload,
  InvalidEventError,
  SCHEMA_HEADER,
  SHARD_UPDATE_CONTENT_TYPE,
  UndecodableEventError,
  UnknownSchemaError,
  type Compression,
  type ShardUpdate,
} from '../src/index.js';
import { makeDelete, makePut } from './fixtures.js';

function roundTrip(update: ShardUpdate): ShardUpdate {
  const { value, headers } = encodeShardUpdate(update);
  return decodeShardUpdate(value, headers);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('encodeShardUpdate / decodeShardUpdate', () => {
  it('round-trips a PUT with an inline payload under every compression', () => {
    for (const compression of ['NONE', 'GZIP', 'BROTLI'] as Compression[]) {
      const body = Buffer.from('{"step":100}\n'.repeat(50));
      const put = makePut({ size: body.length, payload: createInlinePayload(body, compression) });
      const decoded = roundTrip(put);
      expect(decoded).toEqual(put);
      expect(decoded.payload?.kind === 'inline' && inflateInlinePayload(decoded.payload).equals(body)).toBe(true);
    }
  });

  it('round-trips a PUT with a staged payload and a DELETE', () => {
    const staged = makePut({
      size: 5_000_000_000,
      payload: { kind: 'staged', datacenter: 'dc-east', bucket: 'models-east', key: `.shardsync/staging/${'a'.repeat(64)}` },
    });
    expect(roundTrip(staged)).toEqual(staged);
    const del = makeDelete();
    expect(roundTrip(del)).toEqual(del);
  });

  it('labels the message with the schema fingerprint, content type and event id', () => {
    const put = makePut();
    const { headers } = encodeShardUpdate(put);
    expect(headers).toEqual({
      [SCHEMA_HEADER]: bundledSchemaRegistry().readerFingerprint,
      'content-type': SHARD_UPDATE_CONTENT_TYPE,
      'shardsync-event-id': put.eventId,
    });
    expect(headers[SCHEMA_HEADER]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads headers the way Kafka clients deliver them: as Buffers or arrays', () => {
    const put = makePut();
    const { value, headers } = encodeShardUpdate(put);
    const asBuffers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
    const asArrays = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [Buffer.from(v)]]));
    expect(decodeShardUpdate(value, asBuffers)).toEqual(put);
    expect(decodeShardUpdate(value, asArrays)).toEqual(put);
  });

  it('refuses to encode an event that breaks the contract, listing every problem', () => {
    const bad = { ...makePut(), sha256: null, key: '.shardsync/tombstones/x', eventId: 'not-a-uuid' } as unknown as ShardUpdate;
    const error = thrown(() => encodeShardUpdate(bad));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error).toMatchObject({ code: 'SHARDSYNC_INVALID_EVENT', retriable: false });
    expect((error as InvalidEventError).problems).toEqual([
      expect.stringContaining('eventId must be a UUID'),
      expect.stringContaining('reserved for shardsync'),
      expect.stringContaining('a PUT needs sha256'),
    ]);
  });

  const contractViolations: [string, () => ShardUpdate, RegExp][] = [
    ['a PUT without a payload', () => ({ ...makePut(), payload: null }) as unknown as ShardUpdate, /a PUT needs a payload/],
    ['a DELETE with a sha256', () => ({ ...makeDelete(), sha256: 'a'.repeat(64) }) as unknown as ShardUpdate, /DELETE has no sha256/],
    ['a DELETE with a payload', () => ({ ...makeDelete(), payload: createInlinePayload(Buffer.from('x')) }) as unknown as ShardUpdate, /DELETE has no payload/],
    ['an inline payload whose size differs from the update size', () => makePut({ size: 1 }), /uncompressedSize .* must equal the update size/],
    ['uncompressed inline bytes of the wrong length', () => makePut({ payload: { kind: 'inline', bytes: Buffer.from('x'), compression: 'NONE', uncompressedSize: makePut().size } }), /uncompressed inline payload is 1 bytes/],
    ['user metadata under the shardsync- namespace', () => makePut({ metadata: { 'shardsync-version': 'x' } }), /reserved/],
    ['an invalid dataset name', () => makePut({ dataset: 'Models' }), /dataset name/],
    ['a negative size', () => makePut({ size: -1 }), /size must be a non-negative integer/],
  ];
  for (const [what, build, message] of contractViolations) {
    it(`refuses ${what}`, () => {
      expect(() => encodeShardUpdate(build())).toThrow(message);
    });
  }

  it('re-checks the contract on decode, so a bad event from another writer is dead-lettered', () => {
    // Bypass encodeShardUpdate's checks the way a buggy or foreign producer would.
    const registry = bundledSchemaRegistry();
    const record = { ...makeDelete(), sha256: 'a'.repeat(64), metadata: {} };
    const value = registry.reader.toBuffer(record);
    const error = thrown(() => decodeShardUpdate(value, { [SCHEMA_HEADER]: registry.readerFingerprint }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as Error).message).toContain('DELETE has no sha256');
  });
});

describe('decode failures', () => {
  const { value, headers } = encodeShardUpdate(makePut());

  it('are UnknownSchemaError for a fingerprint this build does not know, non-retriable', () => {
    const error = thrown(() => decodeShardUpdate(value, { ...headers, [SCHEMA_HEADER]: 'f'.repeat(64) }));
    expect(error).toBeInstanceOf(UnknownSchemaError);
    expect(error).toMatchObject({ code: 'SHARDSYNC_UNKNOWN_SCHEMA', retriable: false, fingerprint: 'f'.repeat(64) });
    expect((error as Error).message).toMatch(/deploy a consumer with a newer @shardsync\/events/);
  });

  const undecodable: [string, () => unknown, RegExp][] = [
    ['there is no schema header', () => decodeShardUpdate(value, {}), /no "shardsync-schema" header/],
    ['there are no headers at all', () => decodeShardUpdate(value, undefined), /no "shardsync-schema" header/],
    ['the value is missing', () => decodeShardUpdate(null, headers), /no value/],
    ['the content type is foreign', () => decodeShardUpdate(value, { ...headers, 'content-type': 'application/json' }), /content type/],
    ['the bytes are truncated', () => decodeShardUpdate(value.subarray(0, value.length - 5), headers), /truncated/],
    ['the bytes have trailing garbage', () => decodeShardUpdate(Buffer.concat([value, Buffer.from([1, 2, 3])]), headers), /trailing data/],
    ['the bytes are not Avro at all', () => decodeShardUpdate(Buffer.from('{"json":true}'), headers), /not a valid ShardUpdate/],
  ];
  for (const [what, run, message] of undecodable) {
    it(`are UndecodableEventError, non-retriable, when ${what}`, () => {
      const error = thrown(run);
      expect(error).toBeInstanceOf(UndecodableEventError);
      expect(error).toMatchObject({ code: 'SHARDSYNC_UNDECODABLE_EVENT', retriable: false });
      expect((error as Error).message).toMatch(message);
    });
  }
});
