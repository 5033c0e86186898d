import { brotliCompressSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bundledSchemaRegistry, decodeShardUpdate, inflateInlinePayload, InvalidEventError, SCHEMA_HEADER, type InlinePayload } from '../src/index.js';
import { makePut } from './fixtures.js';

// The declared size bounded inflation, but the declared size is the event's own word: one Kafka
// message of a few hundred bytes could make every consumer allocate gigabytes and die of it,
// again at each restart, since the event is never dead-lettered.
describe('inline payloads declaring more than any producer inlines', () => {
  const declared = 256 * 1024 * 1024;
  const bomb: InlinePayload = { kind: 'inline', bytes: brotliCompressSync(Buffer.alloc(declared)), compression: 'BROTLI', uncompressedSize: declared };

  it('are refused by the decoder, before anything is inflated', () => {
    expect(bomb.bytes.length).toBeLessThan(1024);
    // Bypass encodeShardUpdate the way a foreign or compromised writer would.
    const registry = bundledSchemaRegistry();
    const { payload: _payload, ...put } = makePut({ size: declared, sha256: createHash('sha256').update(Buffer.alloc(declared)).digest('hex') });
    const { kind: _kind, ...inline } = bomb;
    const value = registry.reader.toBuffer({ ...put, payload: { 'io.shardsync.events.InlinePayload': inline } });
    expect(() => decodeShardUpdate(value, { [SCHEMA_HEADER]: registry.readerFingerprint })).toThrow(/inline payload/);
  });

  it('are refused by inflateInlinePayload without inflating them', () => {
    expect(() => inflateInlinePayload(bomb)).toThrow(InvalidEventError);
  });
});
