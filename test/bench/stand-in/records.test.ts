import { describe, expect, it } from 'vitest';
import { decodeRecords, encodeRecords } from './records.js';

describe("the stand-in producer's request body", () => {
  it('carries records of any length, in order, and back', () => {
    const records = [
      { key: 'small/a', value: Buffer.from('x') },
      { key: '', value: Buffer.alloc(0) },
      { key: 'small/ünïcode', value: Buffer.alloc(70_000, 7) },
    ];
    const decoded = decodeRecords(encodeRecords(records));
    expect(decoded.map((r) => ({ key: r.key.toString(), value: Buffer.from(r.value) }))).toEqual(records);
  });

  it('a truncated body is refused, naming where it ends', () => {
    const body = encodeRecords([{ key: 'k', value: Buffer.from('value') }]);
    expect(() => decodeRecords(body.subarray(0, body.length - 2))).toThrow(/truncated record at byte 9/);
  });
});
