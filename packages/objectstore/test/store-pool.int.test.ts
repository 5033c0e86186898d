import { describe, expect, it } from 'vitest';
import { S3ObjectStore, StorePool } from '../src/index.js';
import { body, createTestBucket, eventually, readAll } from './helpers.js';

const MiB = 1024 * 1024;

class TrackedS3Store extends S3ObjectStore {
  closed = false;

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }
}

describe('StorePool against the real S3 server', () => {
  it('evicting a store while a GET body streams from it neither cuts the body nor leaves the store open', async () => {
    const first = await createTestBucket();
    const second = await createTestBucket();
    const opened: TrackedS3Store[] = [];
    const pool = new StorePool(
      [{ name: 'dc', s3: { endpoint: first.endpoint, region: first.region, bucket: 'home-bucket-never-used' } }],
      {},
      {
        maxOtherBuckets: 1,
        factory: (config, options) => {
          const store = new TrackedS3Store(config, options);
          opened.push(store);
          return store;
        },
      },
    );
    try {
      const data = body(4 * MiB);
      await pool.at('dc', first.bucket).put('big', data);
      const { body: stream } = await pool.at('dc', first.bucket).get('big');
      await pool.at('dc', second.bucket).head('k'); // evicts the first bucket's store mid-body
      expect(opened[0]?.closed).toBe(false);
      expect((await readAll(stream)).equals(data)).toBe(true);
      await eventually(() => Promise.resolve(opened[0]?.closed === true));
      expect(pool.openOtherStores).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
