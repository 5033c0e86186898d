import { InvalidPassReportError } from './errors.js';
import { PASS_REPORT_FORMAT, type PassReport } from './report.js';

/**
 * The few Redis commands the pass history uses. An ioredis `Redis` satisfies it; so can any
 * other client, which keeps this package free of a Redis dependency.
 */
export interface PassHistoryRedis {
  lpush(key: string, ...values: string[]): Promise<number>;
  ltrim(key: string, start: number, stop: number): Promise<unknown>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
}

/** Options of the pass history functions. */
export interface PassHistoryOptions {
  /** Prefix of the Redis keys. Default `shardsync:reconcile-history` (what the reconciler service writes with its default `SHARDSYNC_RECONCILER_REDIS_PREFIX`). */
  readonly keyPrefix?: string | undefined;
  /** Reports kept per dataset; older ones are dropped. Default 50. */
  readonly keep?: number | undefined;
  /** Divergent keys kept in each stored report (the counts cover all of them). Default 100. */
  readonly keysPerReport?: number | undefined;
}

const DEFAULT_PREFIX = 'shardsync:reconcile-history';

/** The Redis list holding a dataset's recent pass reports, newest first. */
export function passHistoryKey(dataset: string, options: PassHistoryOptions = {}): string {
  return `${options.keyPrefix ?? DEFAULT_PREFIX}:passes:${dataset}`;
}

/**
 * Records a finished pass, once: a pass whose report is already among its dataset's kept
 * reports (the job that recorded it failed or stopped before it completed, and ran again, maybe
 * after CLI passes recorded theirs) is not recorded a second time, nor put back on top. Reports are kept for operators (`shardsync status`), not as a source of truth:
 * if Redis loses them, the next pass still compares the stores from scratch.
 */
export async function recordPass(redis: PassHistoryRedis, report: PassReport, options: PassHistoryOptions = {}): Promise<void> {
  const key = passHistoryKey(report.dataset, options);
  const kept = options.keep ?? 50;
  const recorded = await redis.lrange(key, 0, kept - 1);
  if (recorded.some((json) => passIdOf(json) === report.passId)) return;
  const keysKept = options.keysPerReport ?? 100;
  const stored: PassReport = report.keys.length > keysKept ? { ...report, keys: report.keys.slice(0, keysKept), keysTruncated: true } : report;
  await redis.lpush(key, JSON.stringify(stored));
  await redis.ltrim(key, 0, kept - 1);
}

/** The most recent reports of a dataset, newest first (at most `limit`, default 10). */
export async function recentPasses(redis: PassHistoryRedis, dataset: string, limit = 10, options: PassHistoryOptions = {}): Promise<PassReport[]> {
  const raw = await redis.lrange(passHistoryKey(dataset, options), 0, limit - 1);
  return raw.map(parsePassReport);
}

/** The last pass of a dataset, or undefined if none is recorded (never run, or Redis was emptied). */
export async function lastPassSummary(redis: PassHistoryRedis, dataset: string, options: PassHistoryOptions = {}): Promise<PassReport | undefined> {
  const [last] = await recentPasses(redis, dataset, 1, options);
  return last;
}

/** Parses a stored report, refusing other layouts with {@link InvalidPassReportError}. */
export function parsePassReport(json: string): PassReport {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new InvalidPassReportError(`stored pass report is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || (value as { format?: unknown }).format !== PASS_REPORT_FORMAT) {
    throw new InvalidPassReportError(`stored pass report has an unknown format (expected ${PASS_REPORT_FORMAT}); was it written by another shardsync version?`);
  }
  return value as PassReport;
}

/** The pass id of a stored report, or undefined for one that cannot be read (it is never a match). */
function passIdOf(json: string): string | undefined {
  try {
    return parsePassReport(json).passId;
  } catch {
    return undefined;
  }
}
