import { describe, expect, it } from 'vitest';
import { decodeShardUpdate, encodeShardUpdate, readCurrentSchema, SchemaRegistry, UndecodableEventError } from '../src/index.js';
import { makeDelete } from './fixtures.js';

/** Avro's zig-zag varint encoding of a long. */
function avroLong(n: number): Buffer {
  const bytes: number[] = [];
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 0x80) {
    bytes.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  bytes.push(z);
  return Buffer.from(bytes);
}

/**
 * A DELETE with no metadata ends with the empty map's block count (one 0 byte); this replaces it
 * with a count of `entries`, as a flipped bit or a foreign writer could.
 */
function withMetadataCount(value: Buffer, entries: number): Buffer {
  expect(value[value.length - 1]).toBe(0);
  return Buffer.concat([value.subarray(0, value.length - 1), avroLong(entries)]);
}

function decodeTimed(run: () => unknown): { error: unknown; ms: number } {
  const started = performance.now();
  try {
    run();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected a throw');
}

// avsc loops once per entry a map block claims, even past the end of the bytes (reads there return
// nothing and do not fail until the end), so a count of 2^50 would block the event loop for days.
describe('decoding a map whose block count is larger than the bytes left', () => {
  const huge = 500_000_000;

  it('fails at once with UndecodableEventError instead of spinning through every claimed entry', () => {
    const { value, headers } = encodeShardUpdate(makeDelete({ metadata: {} }));
    const { error, ms } = decodeTimed(() => decodeShardUpdate(withMetadataCount(value, huge), headers));
    expect(error).toBeInstanceOf(UndecodableEventError);
    expect(ms).toBeLessThan(1000);
  });

  it('fails at once for a negative (sized) block count too', () => {
    const { value, headers } = encodeShardUpdate(makeDelete({ metadata: {} }));
    const corrupt = Buffer.concat([withMetadataCount(value, -huge), avroLong(3)]);
    const { error, ms } = decodeTimed(() => decodeShardUpdate(corrupt, headers));
    expect(error).toBeInstanceOf(UndecodableEventError);
    expect(ms).toBeLessThan(1000);
  });

  it('fails at once when the bytes are resolved from an older writer schema', () => {
    // A reader one field ahead of the current schema reads today's events through a resolver.
    const current = readCurrentSchema().schema as { fields: object[] };
    const newer = { ...current, fields: [...current.fields, { name: 'traceId', type: 'string', default: '' }] };
    const registry = new SchemaRegistry(newer, 'newer reader');
    registry.register(current, 'current writer');
    const { value, headers } = encodeShardUpdate(makeDelete({ metadata: {} }));
    const { error, ms } = decodeTimed(() => decodeShardUpdate(withMetadataCount(value, huge), headers, registry));
    expect(error).toBeInstanceOf(UndecodableEventError);
    expect(ms).toBeLessThan(1000);
  });

  it('still decodes metadata maps, including ones written in sized blocks', () => {
    const { value, headers } = encodeShardUpdate(makeDelete({ metadata: { team: 'ml', run: '7' } }));
    expect(decodeShardUpdate(value, headers).metadata).toEqual({ team: 'ml', run: '7' });
    // The same two entries as one block with a negative count followed by the block's byte size.
    const entries = Buffer.concat([avroLong(4), Buffer.from('team'), avroLong(2), Buffer.from('ml'), avroLong(3), Buffer.from('run'), avroLong(1), Buffer.from('7')]);
    const empty = encodeShardUpdate(makeDelete({ metadata: {} }));
    const sized = Buffer.concat([withMetadataCount(empty.value, -2), avroLong(entries.length), entries, avroLong(0)]);
    expect(decodeShardUpdate(sized, empty.headers).metadata).toEqual({ team: 'ml', run: '7' });
  });
});
