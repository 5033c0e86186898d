import { stackInfo, testRedis, waitFor } from '@shardsync/testing';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPassLock } from '@shardsync/reconcile';
import { holderRunningIn } from '@shardsync/reconcile-queue';
import { JOB, QUEUE_NAME, type PassJobData, type PassResult } from '../src/jobs/types.js';
import { slowDeepPassSetup, testPrefix } from './helpers.js';

const DAY = 24 * 3600 * 1000;

describe('pass lock (real Redis)', () => {
  it('lets exactly one of many passes of a dataset that start together run; the others learn which one', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async () => true);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => lock.claim('models', `job-${i}`)));
    const winners = answers.map((a, i) => (a === undefined ? `job-${i}` : undefined)).filter((w) => w !== undefined);
    expect(winners).toHaveLength(1);
    expect(new Set(answers.filter((a) => a !== undefined))).toEqual(new Set(winners));
  });

  it('is held per dataset, again by its own holder (a retried attempt), and free for the next pass once released', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async () => true);
    expect(await lock.claim('models', 'a')).toBeUndefined();
    expect(await lock.claim('datasets', 'b')).toBeUndefined();
    expect(await lock.claim('models', 'a')).toBeUndefined();
    expect(await lock.claim('models', 'c')).toBe('a');
    await lock.release('models', 'c'); // not the holder: nothing happens
    expect(await lock.claim('models', 'c')).toBe('a');
    await lock.release('models', 'a');
    expect(await lock.claim('models', 'c')).toBeUndefined();
  });

  it('is taken over from a holder that no longer runs, by exactly one of the passes that find it so', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async (id) => id !== 'crashed');
    expect(await lock.claim('models', 'crashed')).toBeUndefined();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => lock.claim('models', `next-${i}`)));
    const winners = answers.flatMap((a, i) => (a === undefined ? [`next-${i}`] : []));
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => a !== undefined && a !== winners[0])).toEqual([]);
    expect(await lock.claim('models', 'later')).toBe(winners[0]);
  });

  it('is held by a CLI lease while it is extended, though the queue knows no such job, and free once the lease is no longer extended', async () => {
    const lock = createPassLock(testRedis(), testPrefix(), async () => false);
    expect(await lock.lease('models', 'cli:host:1:a', 600)).toBeUndefined();
    expect(await lock.claim('models', 'job-1')).toBe('cli:host:1:a');
    expect(await lock.lease('models', 'cli:host:2:b', 600)).toBe('cli:host:1:a');
    await new Promise((r) => setTimeout(r, 400));
    expect(await lock.extend('models', 'cli:host:1:a', 600)).toBe(true);
    expect(await lock.extend('models', 'cli:host:2:b', 600)).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await lock.claim('models', 'job-1')).toBe('cli:host:1:a');
    await new Promise((r) => setTimeout(r, 700));
    expect(await lock.claim('models', 'job-1')).toBeUndefined();
    expect(await lock.extend('models', 'cli:host:1:a', 600)).toBe(false);
  });

  it('is held by a running pass whose job was created a day ago (as a daily scheduler stamps it), so another pass of the dataset skips', async () => {
    const { dataset, prefix, service } = await slowDeepPassSetup();
    const redis = testRedis();
    // A job scheduler stamps an iteration when the previous one starts: one interval before it runs.
    const deep = await service.queue.add(JOB.pass, { request: { dataset, deep: true } } satisfies PassJobData, { timestamp: Date.now() - DAY - 5_000, attempts: 2 });
    const lockKey = `${prefix}:pass-lock:${dataset}`;
    await waitFor(async () => ((await redis.get(lockKey)) === deep.id ? true : undefined), { timeoutMs: 30_000, what: 'the deep pass holding the lock' });
    expect(await holderRunningIn(service.queue, JOB.pass)(deep.id ?? '', dataset)).toBe(true);
    expect(await holderRunningIn(service.queue, JOB.pass)(deep.id ?? '', 'another-dataset')).toBe(false);

    const routine = await service.queue.add(JOB.pass, { request: { dataset } } satisfies PassJobData);
    const finished = await waitFor(
      async () => {
        const job = await service.queue.getJob(routine.id ?? '');
        return job !== undefined && (await job.getState()) === 'completed' ? job : undefined;
      },
      { timeoutMs: 30_000, what: 'the routine pass to finish' },
    );
    expect((finished.returnvalue as PassResult).skipped).toBe(`pass job ${deep.id ?? ''} is still running`);
    expect(await deep.getState()).toBe('active');
    expect(await redis.get(lockKey)).toBe(deep.id);
  }, 120_000);

  it('is held by a pass that compared over a day ago while one of its range jobs is still running, so a second pass does not repair beside it', async () => {
    const prefix = testPrefix();
    const connection = new Redis(stackInfo().redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection, prefix });
    const flows = new FlowProducer({ connection, prefix });
    let finishRange = (): void => undefined;
    const rangeRuns = new Promise<void>((resolve) => {
      finishRange = resolve;
    });
    // A range job repairing for longer than a day (a datacenter refilled by a scheduled pass): it runs till the test ends.
    const worker = new Worker(QUEUE_NAME, async () => rangeRuns, { connection, prefix });
    onTestFinished(async () => {
      finishRange();
      await worker.close();
      await flows.close();
      await queue.close();
      connection.disconnect();
    });
    const flow = await flows.add({
      name: JOB.pass,
      queueName: QUEUE_NAME,
      data: { request: { dataset: 'models' } } satisfies PassJobData,
      opts: { timestamp: Date.now() - DAY - 5_000 },
      children: [{ name: JOB.range, queueName: QUEUE_NAME, data: {} }],
    });
    const pass = flow.job.id ?? '';
    await waitFor(async () => ((await flow.children?.[0]?.job.getState()) === 'active' ? true : undefined), { timeoutMs: 30_000, what: 'the range job running' });
    expect(await queue.getJob(pass).then((j) => j?.getState())).toBe('waiting-children');
    expect(await holderRunningIn(queue, JOB.pass)(pass, 'models')).toBe(true);
  }, 60_000);
});
