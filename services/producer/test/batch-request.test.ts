import { encodeBatchFrame } from '@shardsync/batch-wire';
import { describe, expect, it } from 'vitest';
import { parseBatchFrame, parseBatchRequest } from '../src/http/batch-request.js';
import { refusal } from './refusal.js';

describe('parseBatchRequest', () => {
  it('decodes a body of several MiB of base64 (a grouped pattern would overflow the regex stack)', () => {
    const bytes = Buffer.alloc(6 * 1024 * 1024 + 1, 0xab);
    const [item] = parseBatchRequest({ items: [{ operation: 'put', dataset: 'ds', key: 'k', body: bytes.toString('base64') }] });
    expect(item?.operation === 'put' ? item.body.equals(bytes) : false).toBe(true);
  });

  it('refuses base64 that is unpadded, has padding inside, or foreign characters, naming the item', () => {
    for (const body of ['YWI', 'YQ==YQ==', 'YW I=', 'YWJj-A==']) {
      expect(() => parseBatchRequest({ items: [{ operation: 'put', dataset: 'ds', key: 'k', body }] })).toThrow(/items\[0\]: "body" must be the object's bytes in base64/);
    }
  });

  it('refuses a metadata name no header could carry, saying what names may hold (only what the event rule accepts)', () => {
    expect(() => parseBatchRequest({ items: [{ operation: 'put', dataset: 'ds', key: 'k', body: '', metadata: { 'Bad Name': 'x' } }] })).toThrow(
      /items\[0\]: metadata name "Bad Name" must be lower-case letters, digits and "-"$/,
    );
  });

  it('keeps a metadata name such as "__proto__" as an entry, for the ingest to refuse, instead of dropping it', () => {
    const [item] = parseBatchRequest(JSON.parse('{"items":[{"operation":"put","dataset":"ds","key":"k","body":"","metadata":{"__proto__":"x","a":"1"}}]}'));
    expect(item?.operation === 'put' ? Object.entries(item.metadata) : []).toEqual([
      ['__proto__', 'x'],
      ['a', '1'],
    ]);
  });
});

describe('parseBatchFrame', () => {
  const put = (key: string, bodyLength: number) => ({ operation: 'put', dataset: 'ds', key, bodyLength });

  it('gives each put the bytes its bodyLength claims, in item order, deletes none', () => {
    const a = Buffer.from([0, 255, 10, 13]);
    const b = Buffer.from('second');
    const items = parseBatchFrame(encodeBatchFrame({ items: [put('a', 4), { operation: 'delete', dataset: 'ds', key: 'gone' }, put('empty', 0), put('b', 6)] }, [a, b]));
    expect(items.map((i) => [i.key, i.operation === 'put' ? i.body.toString('hex') : null])).toEqual([
      ['a', a.toString('hex')],
      ['gone', null],
      ['empty', ''],
      ['b', b.toString('hex')],
    ]);
  });

  it('refuses lengths that do not add up to the bytes after the description, naming the item', () => {
    expect(() => parseBatchFrame(encodeBatchFrame({ items: [put('a', 2), put('b', 5)] }, [Buffer.alloc(6)]))).toThrow(/items\[1\]: "bodyLength" is 5 but only 4 body bytes are left/);
    expect(() => parseBatchFrame(encodeBatchFrame({ items: [put('a', 2)] }, [Buffer.alloc(3)]))).toThrow(/1 bytes follow the last body/);
    expect(() => parseBatchFrame(encodeBatchFrame({ items: [{ ...put('a', 1), bodyLength: -1 }] }, [Buffer.alloc(1)]))).toThrow(/items\[0\]: "bodyLength" must be the body's size/);
  });

  it('refuses a base64 "body" in the binary form and a "bodyLength" in the JSON form', () => {
    expect(() => parseBatchFrame(encodeBatchFrame({ items: [{ ...put('a', 1), body: 'eA==' }] }, [Buffer.alloc(1)]))).toThrow(/items\[0\]: "body" belongs to the JSON form/);
    expect(() => parseBatchRequest({ items: [{ ...put('a', 1), body: 'eA==' }] })).toThrow(/items\[0\]: "bodyLength" belongs to the binary form/);
  });

  it('refuses a body that is not a frame with a 400 saying what a frame looks like', () => {
    const err = refusal(() => parseBatchFrame(Buffer.from('{"items":[]}')));
    expect({ code: err.code, status: err.status }).toEqual({ code: 'SHARDSYNC_INVALID_REQUEST', status: 400 });
    expect(err.message).toMatch(/starts with "SSB1"/);
  });
});
