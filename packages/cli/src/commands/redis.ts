import { Redis } from 'ioredis';

/** A short-lived connection that fails fast instead of queueing when Redis is down. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

export async function disconnectRedis(redis: Redis | undefined): Promise<void> {
  if (redis === undefined) return;
  await redis.quit().catch(() => redis.disconnect());
}

/** The reconciler's Redis key prefix: `SHARDSYNC_RECONCILER_REDIS_PREFIX`, the variable the service reads (default `shardsync`). */
export function reconcilerPrefix(env: NodeJS.ProcessEnv): string {
  const prefix = env['SHARDSYNC_RECONCILER_REDIS_PREFIX'];
  return prefix === undefined || prefix === '' ? 'shardsync' : prefix;
}
