import { redactRedisUrl } from '@shardsync/config';
import { lastPassSummary, recordPass, type PassHistoryOptions, type PassReport } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { describeError } from '../errors.js';
import type { Redis } from 'ioredis';
import { connectRedis, disconnectRedis, reconcilerPrefix } from './redis.js';

/** The part of a pass report `status` shows. */
export interface LastPassSummary {
  readonly passId: string;
  readonly finishedAt: string;
  readonly dryRun: boolean;
  readonly deep: boolean;
  /** The datacenters the pass compared, and those it repaired (fewer for a bootstrap of one). */
  readonly datacenters: readonly string[];
  readonly targets: readonly string[];
  readonly divergentKeys: number;
  readonly repaired: number;
  readonly remaining: number;
  readonly converged: boolean;
}

/** The last pass of every dataset, or why they could not be read. */
export type LastPassStatus =
  | { readonly available: true; readonly passes: ReadonlyArray<{ readonly dataset: string; readonly summary?: LastPassSummary | undefined }> }
  | { readonly available: false; readonly reason: string };

/**
 * Where the reconciler keeps pass reports: `<SHARDSYNC_RECONCILER_REDIS_PREFIX>:reconcile-history`,
 * the same variable (default `shardsync`) the reconciler service reads.
 */
export function historyOptions(env: NodeJS.ProcessEnv): PassHistoryOptions {
  return { keyPrefix: `${reconcilerPrefix(env)}:reconcile-history` };
}

export function summarise(report: PassReport): LastPassSummary {
  return {
    passId: report.passId,
    finishedAt: report.finishedAt,
    dryRun: report.dryRun,
    deep: report.deep,
    datacenters: report.datacenters,
    targets: report.targets,
    divergentKeys: report.divergentKeys,
    repaired: report.totals.repaired,
    remaining: report.remaining,
    converged: report.converged,
  };
}

/** Reads the last pass of each dataset from the pass history in Redis. Never throws: Redis being down is reported. */
export async function lastPassSummaries(ctx: CliContext): Promise<LastPassStatus> {
  let redis: Redis | undefined;
  try {
    redis = await connectRedis(ctx.topology.redis.url);
    const client = redis;
    const options = historyOptions(ctx.env);
    const passes = await Promise.all(
      ctx.topology.datasets.map(async (d) => {
        const report = await lastPassSummary(client, d.name, options);
        return { dataset: d.name, summary: report === undefined ? undefined : summarise(report) };
      }),
    );
    return { available: true, passes };
  } catch (err) {
    return { available: false, reason: `Redis at ${redactRedisUrl(ctx.topology.redis.url)}: ${describeError(err).message}` };
  } finally {
    await disconnectRedis(redis);
  }
}

/**
 * Records passes run by the CLI in the same history the scheduled passes use, so `status` shows
 * the latest whoever ran it. Best effort: returns the problem instead of failing the pass.
 */
export async function recordPasses(ctx: CliContext, reports: readonly PassReport[]): Promise<string | undefined> {
  let redis: Redis | undefined;
  try {
    redis = await connectRedis(ctx.topology.redis.url);
    for (const report of reports) await recordPass(redis, report, historyOptions(ctx.env));
    return undefined;
  } catch (err) {
    return describeError(err).message;
  } finally {
    await disconnectRedis(redis);
  }
}
