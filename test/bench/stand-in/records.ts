/**
 * The stand-in producer's request body: a sequence of records, each `u32 key length, key,
 * u32 value length, value` (big-endian). Binary, so neither side pays for JSON or base64.
 */

/** The records of one request body; throws on a truncated one. */
export function decodeRecords(body: Buffer): Array<{ key: Buffer; value: Buffer }> {
  const records: Array<{ key: Buffer; value: Buffer }> = [];
  let at = 0;
  const field = (): Buffer => {
    if (at + 4 > body.length) throw new Error(`truncated record at byte ${at}`);
    const length = body.readUInt32BE(at);
    at += 4;
    if (at + length > body.length) throw new Error(`truncated record at byte ${at}`);
    const bytes = body.subarray(at, at + length);
    at += length;
    return bytes;
  };
  while (at < body.length) records.push({ key: field(), value: field() });
  return records;
}

/** A request body of `records` in the format {@link decodeRecords} reads. */
export function encodeRecords(records: ReadonlyArray<{ key: string; value: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const key = Buffer.from(r.key);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(key.length);
    const valueHead = Buffer.alloc(4);
    valueHead.writeUInt32BE(r.value.length);
    parts.push(head, key, valueHead, r.value);
  }
  return Buffer.concat(parts);
}
