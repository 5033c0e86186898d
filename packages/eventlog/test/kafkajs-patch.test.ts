import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/** The part of kafkajs' (untyped, internal) protocol encoder this test looks at. */
interface KafkajsEncoder {
  readonly buf: Buffer;
  writeVarIntBytes(value: Buffer): KafkajsEncoder;
  readonly buffer: Buffer;
}
type EncoderClass = new (initialSize?: number) => KafkajsEncoder;

const require = createRequire(import.meta.url);

describe('kafkajs as patched by patches/kafkajs+2.2.4.patch (npm postinstall)', () => {
  it('takes its encoders\' buffers from Node\'s shared pool instead of a zero-filled allocation each', () => {
    const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
    // Buffer.alloc(512) owns a 512-byte ArrayBuffer; Buffer.allocUnsafe(512) is a slice of the
    // 8 KiB pool. Without the patch every record and header of a produce request allocates
    // (and zero-fills) fresh memory: about a sixth of the producer's CPU per update.
    expect(new Encoder().buf.buffer.byteLength).toBe(Buffer.poolSize);
  });

  it('still encodes only the bytes written, however its buffer grows', () => {
    const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
    const value = Buffer.alloc(3000, 7);
    const encoded = new Encoder().writeVarIntBytes(value).buffer;
    // Zig-zag varint of 3000 (two bytes), then exactly the value: no stale pool bytes.
    expect(encoded.length).toBe(2 + value.length);
    expect(encoded.subarray(2).equals(value)).toBe(true);
  });
});
