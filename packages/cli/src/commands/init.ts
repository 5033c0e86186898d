import { topicsOf, type Datacenter } from '@shardsync/config';
import { classifyKafkaError } from '@shardsync/eventlog';
import { NoSuchBucketError } from '@shardsync/objectstore';
import type { CliContext } from '../context.js';
import { CliError, describeError, InterruptedError } from '../errors.js';
import { untilInterrupted, withTimeout } from '../interrupt.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { renderTable } from '../table.js';

export interface InitReport {
  readonly topics: ReadonlyArray<{ readonly topic: string; readonly outcome: 'created' | 'exists'; readonly partitions: number; readonly warning?: string | undefined }>;
  readonly buckets: ReadonlyArray<{ readonly datacenter: string; readonly bucket: string; readonly endpoint: string; readonly outcome: 'created' | 'exists' | 'failed'; readonly error?: string | undefined }>;
  readonly ok: boolean;
}

/**
 * Creates what a fresh deployment needs and leaves what exists alone (idempotent): the updates
 * topic (partitions and replication factor from the topology), the dead-letter topic (one
 * partition, as the services create it) and each datacenter's bucket.
 */
export function init(ctx: CliContext): Promise<CommandResult<InitReport>> {
  return untilInterrupted(
    ctx.signal,
    () => initialise(ctx),
    () => new InterruptedError('init was interrupted; the topics and buckets it created so far stay', 'run init again: it creates only what is still missing'),
  );
}

async function initialise(ctx: CliContext): Promise<CommandResult<InitReport>> {
  const { topology } = ctx;
  const topics = await ensureTopics(ctx);
  const buckets = await Promise.all(topology.datacenters.map((dc) => ensureBucket(ctx, dc)));
  const report: InitReport = { topics, buckets, ok: buckets.every((b) => b.outcome !== 'failed') };
  return { data: report, text: renderInit(report), exitCode: report.ok ? ExitCode.ok : ExitCode.error };
}

async function ensureTopics(ctx: CliContext): Promise<InitReport['topics']> {
  const wanted = topicsOf(ctx.topology);
  const admin = await ctx.rawAdmin();
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } catch (err) {
    throw classifyKafkaError(err, 'listing topics');
  }
  await ctx.admin().ensureTopics(wanted);
  let metadata: Awaited<ReturnType<typeof admin.fetchTopicMetadata>>;
  try {
    metadata = await admin.fetchTopicMetadata({ topics: wanted.map((w) => w.topic) });
  } catch (err) {
    throw classifyKafkaError(err, 'reading topic metadata');
  }
  return wanted.map((w) => {
    const partitions = metadata.topics.find((t) => t.name === w.topic)?.partitions.length ?? 0;
    const warning =
      w.topic === ctx.topology.kafka.topics.updates && partitions !== w.partitions
        ? `has ${partitions} partitions but the topology says ${w.partitions}; existing topics are left as they are (consumer parallelism follows the topic)`
        : undefined;
    return { topic: w.topic, outcome: existing.has(w.topic) ? 'exists' : 'created', partitions, ...(warning === undefined ? {} : { warning }) };
  });
}

async function ensureBucket(ctx: CliContext, dc: Datacenter): Promise<InitReport['buckets'][number]> {
  const base = { datacenter: dc.name, bucket: dc.s3.bucket, endpoint: dc.s3.endpoint };
  try {
    try {
      await ctx.stores().of(dc.name).ping(withTimeout(ctx.signal, 15_000));
      return { ...base, outcome: 'exists' };
    } catch (err) {
      if (!(err instanceof NoSuchBucketError)) throw err;
    }
    return { ...base, outcome: await createBucket(dc, ctx.signal) };
  } catch (err) {
    return { ...base, outcome: 'failed', error: describeError(err).message };
  }
}

/**
 * CreateBucket as a plain HTTP request. Only for stores that do not check signatures (credentials
 * `none`: the local s3proxy emulation, docker-compose): the object store package has no bucket
 * creation, and the CLI takes no S3 SDK dependency of its own for one request.
 */
async function createBucket(dc: Datacenter, signal: AbortSignal | undefined): Promise<'created' | 'exists'> {
  if (dc.s3.credentials.type !== 'none') {
    throw new CliError(
      'SHARDSYNC_CLI_NOT_AVAILABLE',
      `bucket ${dc.s3.bucket} does not exist in ${dc.name}; init creates buckets only on stores with credentials { type: none } (the local emulation)`,
      { hint: `create it with your provider's tooling, then run init again` },
    );
  }
  const endpoint = new URL(dc.s3.endpoint);
  const base = endpoint.pathname.replace(/\/$/, '');
  const url = dc.s3.forcePathStyle
    ? new URL(`${base}/${encodeURIComponent(dc.s3.bucket)}`, endpoint)
    : new URL(`${base}/`, `${endpoint.protocol}//${dc.s3.bucket}.${endpoint.host}`);
  const body =
    dc.s3.region === 'us-east-1'
      ? undefined
      : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${dc.s3.region}</LocationConstraint></CreateBucketConfiguration>`;
  const response = await fetch(url, { method: 'PUT', body, signal: withTimeout(signal, 15_000) });
  const text = await response.text();
  if (response.ok) return 'created';
  if (response.status === 409 && text.includes('BucketAlreadyOwnedByYou')) return 'exists';
  throw new CliError('SHARDSYNC_CLI_FAILED', `creating bucket ${dc.s3.bucket} at ${dc.s3.endpoint} (${dc.name}) answered HTTP ${response.status}: ${text.slice(0, 300)}`);
}

export function renderInit(report: InitReport): string {
  const topics = renderTable(
    [{ header: 'TOPIC' }, { header: 'PARTITIONS', align: 'right' }, { header: 'RESULT' }],
    report.topics.map((t) => [t.topic, String(t.partitions), t.warning === undefined ? t.outcome : `${t.outcome}; ${t.warning}`]),
  );
  const buckets = renderTable(
    [{ header: 'DATACENTER' }, { header: 'BUCKET' }, { header: 'ENDPOINT' }, { header: 'RESULT' }],
    report.buckets.map((b) => [b.datacenter, b.bucket, b.endpoint, b.error === undefined ? b.outcome : `${b.outcome}: ${b.error}`]),
  );
  return `${topics}\n\n${buckets}\n\n${report.ok ? 'ready' : 'some buckets could not be created (see above)'}`;
}
