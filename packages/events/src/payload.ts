import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { InvalidEventError } from './errors.js';
import type { Compression, InlinePayload } from './types.js';

/**
 * Largest object that may travel inline, uncompressed: the Kafka message limit (1 MiB by default).
 * Producers inline at most 512 KiB (`SHARDSYNC_PRODUCER_INLINE_MAX_BYTES`). Without a fixed cap an
 * event's own declared size would bound inflation, so a few hundred bytes of brotli declaring
 * gigabytes would make every consumer allocate them.
 */
export const MAX_INLINE_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Wraps an object's bytes as an inline payload, compressed with `compression` (default `NONE`).
 * Compression is worth it for text-like metadata shards; checkpoint tensors rarely shrink.
 */
export function createInlinePayload(bytes: Uint8Array, compression: Compression = 'NONE'): InlinePayload {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { kind: 'inline', bytes: compress(raw, compression), compression, uncompressedSize: raw.length };
}

function compress(raw: Buffer, compression: Compression): Buffer {
  switch (compression) {
    case 'NONE':
      return Buffer.from(raw);
    case 'GZIP':
      return gzipSync(raw);
    case 'BROTLI':
      return brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  }
}

/**
 * The object's original bytes. Throws {@link InvalidEventError} if they do not decompress, or
 * decompress to a length other than `uncompressedSize`, or declare more than
 * {@link MAX_INLINE_PAYLOAD_BYTES}; decompression stops at that length, so a hostile payload
 * cannot expand without bound.
 */
export function inflateInlinePayload(payload: InlinePayload): Buffer {
  if (!(payload.uncompressedSize <= MAX_INLINE_PAYLOAD_BYTES)) {
    throw new InvalidEventError([`inline payload declares ${payload.uncompressedSize} bytes; at most ${MAX_INLINE_PAYLOAD_BYTES} travel inline`], 'inline payload');
  }
  const limit = Math.max(payload.uncompressedSize, 1); // zlib rejects a limit of 0
  let raw: Buffer;
  try {
    switch (payload.compression) {
      case 'NONE':
        raw = payload.bytes;
        break;
      case 'GZIP':
        raw = gunzipSync(payload.bytes, { maxOutputLength: limit });
        break;
      case 'BROTLI':
        raw = brotliDecompressSync(payload.bytes, { maxOutputLength: limit });
        break;
    }
  } catch (err) {
    throw new InvalidEventError([`inline payload does not decompress as ${payload.compression}: ${(err as Error).message}`], 'inline payload');
  }
  if (raw.length !== payload.uncompressedSize) {
    throw new InvalidEventError([`inline payload is ${raw.length} bytes after decompression, expected ${payload.uncompressedSize}`], 'inline payload');
  }
  return raw;
}
