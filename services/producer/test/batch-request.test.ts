import { describe, expect, it } from 'vitest';
import { parseBatchRequest } from '../src/http/batch-request.js';

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
});
