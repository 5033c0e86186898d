import { Queue, QueueEvents, Worker } from 'bullmq';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testRedis, uniqueName } from '@shardsync/testing';

describe('BullMQ smoke test', () => {
  it('a job added to a queue is processed by a worker and its result comes back', async () => {
    const name = uniqueName('smoke-queue');
    const connection = testRedis();
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection: testRedis() });
    const worker = new Worker(name, async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), { connection: testRedis() });
    onTestFinished(async () => {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    await events.waitUntilReady();
    const job = await queue.add('double', { n: 21 });
    const result = (await job.waitUntilFinished(events, 30_000)) as { doubled: number };
    expect(result).toEqual({ doubled: 42 });
    expect(await connection.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });
});
