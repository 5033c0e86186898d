import avro from 'avsc';
import type { ForSchemaOptions, Schema, Type } from 'avsc';

/*
 * avsc reads a map's block count from the bytes and then loops that many times, even once it has
 * run past the end of the buffer: reads there return empty values and the truncation is only
 * reported after the loop. A corrupt or hostile count (one flipped bit is enough for 2^50) thus
 * blocks the consumer's event loop for hours or days on a single message. Every map entry takes at
 * least one byte (its key's length), so a count above the bytes left is refused before looping.
 *
 * avsc offers no option for this, so schemas are compiled with map types whose read and skip
 * methods (`_read`, `_skip`, which a resolver copies from its reader type) check the count first.
 */

/** The part of avsc's (undocumented) Tap that map reading uses. */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string | undefined;
  skipString(): void;
}

/** A map type or a resolver of one, as avsc calls `_read`/`_skip` on it. */
interface MapReader {
  readonly valuesType: { _read(tap: Tap): unknown; _skip(tap: Tap): void };
}

function checkedCount(tap: Tap, n: number): number {
  const left = tap.buf.length - tap.pos;
  if (n > left) throw new Error(`truncated or corrupt buffer: a map block claims ${n} entries but only ${Math.max(left, 0)} bytes are left`);
  return n;
}

/** The next block's entry count (0 at the end of the map); skips a sized block's byte size. */
function blockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  return checkedCount(tap, n);
}

function boundedRead(this: MapReader, tap: Tap): Record<string, unknown> {
  const values = this.valuesType;
  const map: Record<string, unknown> = {};
  for (let n = blockCount(tap); n > 0; n = blockCount(tap)) {
    for (; n > 0; n--) {
      const key = tap.readString() ?? '';
      map[key] = values._read(tap);
    }
  }
  return map;
}

function boundedSkip(this: MapReader, tap: Tap): void {
  const values = this.valuesType;
  for (let n = tap.readLong(); n !== 0; n = tap.readLong()) {
    if (n < 0) {
      // A sized block is skipped whole, without looping over it; a negative size would go back.
      const size = tap.readLong();
      if (size < 0) throw new Error(`corrupt buffer: a map block has a negative byte size ${size}`);
      tap.pos += size;
      continue;
    }
    for (n = checkedCount(tap, n); n > 0; n--) {
      tap.skipString();
      values._skip(tap);
    }
  }
}

/**
 * avsc's map type with reads and skips that check each block's count first. `_read` and `_skip` are
 * the methods avsc calls while decoding; a resolver built from this type copies its `_read`.
 */
export class BoundedMapType extends avro.types.MapType {
  _read(this: MapReader, tap: Tap): Record<string, unknown> {
    return boundedRead.call(this, tap);
  }

  _skip(this: MapReader, tap: Tap): void {
    boundedSkip.call(this, tap);
  }
}

/** avsc `typeHook` that compiles every map schema as a {@link BoundedMapType}. */
export function boundedMapsHook(schema: Schema, opts: ForSchemaOptions): Type | undefined {
  if (typeof schema !== 'object' || Array.isArray(schema) || (schema as { type?: unknown }).type !== 'map') return undefined;
  return new BoundedMapType(schema, opts);
}
