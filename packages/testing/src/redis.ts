import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { stackInfo } from './stack-info.js';

/**
 * An ioredis connection to the stack's Redis, closed when the test ends.
 * `maxRetriesPerRequest: null` is what BullMQ workers require.
 */
export function testRedis(): Redis {
  const redis = new Redis(stackInfo().redis.url, { maxRetriesPerRequest: null, lazyConnect: false });
  onTestFinished(async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return redis;
}
