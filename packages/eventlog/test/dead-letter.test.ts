import { describe, expect, it } from 'vitest';
import { fromDeadLetter, readDeadLetter, toDeadLetter } from '../src/dead-letter.js';
import type { ConsumedEvent } from '../src/types.js';

const original: ConsumedEvent = {
  topic: 'shardsync.updates',
  partition: 4,
  offset: '1234',
  key: Buffer.from('models/a.bin'),
  value: Buffer.from([0xde, 0xad]),
  headers: { 'shardsync-schema': 'abc' },
  timestampMs: 1,
};

describe('dead letters', () => {
  it('carry the original bytes and name the topic, partition, offset, datacenter and error', () => {
    const dl = toDeadLetter(original, { datacenter: 'dc-b', code: 'SHARDSYNC_UNDECODABLE_EVENT', message: 'bad bytes' }, 42);
    expect(dl.value).toEqual(original.value);
    expect(dl.key).toBe('models/a.bin');
    const info = readDeadLetter(dl.headers ?? {});
    expect(info).toEqual({
      originalTopic: 'shardsync.updates',
      originalPartition: 4,
      originalOffset: '1234',
      datacenter: 'dc-b',
      code: 'SHARDSYNC_UNDECODABLE_EVENT',
      message: 'bad bytes',
      atMs: 42,
    });
    expect(dl.headers?.['shardsync-schema']).toBe('abc');
  });

  it('a replayed dead letter is the original event without the dead-letter headers', () => {
    const dl = toDeadLetter(original, { datacenter: 'dc-b', code: 'X', message: 'y' }, 1);
    const replay = fromDeadLetter({ ...original, topic: 'dlq', headers: dl.headers ?? {} });
    expect(replay.headers).toEqual({ 'shardsync-schema': 'abc' });
    expect(readDeadLetter(replay.headers ?? {})).toBeUndefined();
  });
});
