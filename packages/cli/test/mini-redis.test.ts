import { describe, expect, it } from 'vitest';
import { encodeCommand, parseReply } from '../src/index.js';

describe('the minimal Redis protocol client', () => {
  it('encodes commands as arrays of bulk strings, counting bytes not characters', () => {
    expect(encodeCommand(['LRANGE', 'k', '0', '-1']).toString()).toBe('*4\r\n$6\r\nLRANGE\r\n$1\r\nk\r\n$1\r\n0\r\n$2\r\n-1\r\n');
    expect(encodeCommand(['SET', 'é']).toString()).toBe('*2\r\n$3\r\nSET\r\n$2\r\né\r\n');
  });

  it('parses every reply type, nested arrays and nulls', () => {
    expect(parseReply(Buffer.from('+OK\r\n'))).toEqual({ value: 'OK', next: 5 });
    expect(parseReply(Buffer.from(':42\r\n'))?.value).toBe(42);
    expect(parseReply(Buffer.from('$-1\r\n'))?.value).toBeNull();
    expect(parseReply(Buffer.from('*2\r\n$3\r\nfoo\r\n*1\r\n:1\r\n'))?.value).toEqual(['foo', [1]]);
    expect(parseReply(Buffer.from('-ERR wrong type\r\n'))?.value).toMatchObject({ message: 'ERR wrong type' });
  });

  it('waits for the rest of a reply split across packets', () => {
    expect(parseReply(Buffer.from('$5\r\nhel'))).toBeUndefined();
    expect(parseReply(Buffer.from('*2\r\n$1\r\na\r\n'))).toBeUndefined();
    const two = Buffer.from('$5\r\nhello\r\n:7\r\n');
    const first = parseReply(two);
    expect(first?.value).toBe('hello');
    expect(parseReply(two, first?.next)?.value).toBe(7);
  });
});
