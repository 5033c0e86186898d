import { UsageError } from '../errors.js';

/**
 * The capacity model behind `shardsync plan` (issue 6): how long replicating a data set takes.
 *
 *   time = per-shard overhead x shards / concurrency  +  bytes x (datacenters - 1) / effective bandwidth
 *
 * Assumptions, stated here and printed with every prediction:
 * - Fan-out: every peer datacenter pulls each shard from the origin's store, so with a `shared`
 *   link (the default: one egress link at the origin, the usual bottleneck) all peers' transfers
 *   share `bandwidth` and it carries bytes x (datacenters - 1). With `per-peer` links (a full
 *   mesh, each pair with its own `bandwidth`) the peers transfer in parallel and the transfer term
 *   is bytes / bandwidth.
 * - Effective bandwidth is the link's, unless TCP cannot fill it: one stream moves at most
 *   window / RTT, and `concurrency` shards per peer are in flight at once.
 * - Per-shard overhead (default 2 x RTT + 5 ms) is the latency a shard pays besides its bytes:
 *   about one round trip for the event to reach a peer's consumer (produce acknowledgement, fetch),
 *   one for the GET of the staged shard to start, and a few milliseconds of local work (HEAD and
 *   PUT in the peer's own store). Peers work in parallel, so it counts once, divided by the
 *   shards in flight. Calibrate it with a measured run (`npm run bench`).
 * - The two terms are added, which assumes no overlap and so errs on the slow side; with perfect
 *   pipelining the time tends to the larger term alone, reported as the lower bound.
 * - Not counted: uploading to the origin's store (local to the producer), Kafka throughput (events
 *   are small), CPU for SHA-256 (about 1 GB/s per core, far above typical WAN links), retries.
 */
export interface PlanInput {
  readonly sizeBytes: number;
  readonly shardBytes: number;
  /** Datacenters holding the data set, the origin included. */
  readonly datacenters: number;
  /** Bytes per second of one link. */
  readonly bandwidthBytesPerSecond: number;
  readonly rttMs: number;
  /** Shards in flight per peer datacenter. Default 16 (the consumer's `SHARDSYNC_CONSUMER_CONCURRENCY`). */
  readonly concurrency?: number | undefined;
  /** Default `2 x rttMs + 5`. */
  readonly perShardOverheadMs?: number | undefined;
  /** Largest TCP window a stream reaches. Default 4 MiB (Linux autotuning's usual maximum). */
  readonly tcpWindowBytes?: number | undefined;
  /** See above. Default `shared`. */
  readonly link?: 'shared' | 'per-peer' | undefined;
}

export interface Plan {
  readonly input: Required<PlanInput>;
  readonly shards: number;
  readonly peers: number;
  /** Shards in flight per peer: `concurrency`, or every shard when there are fewer. */
  readonly inFlight: number;
  /** Bytes crossing the bottleneck link(s): all peers' on a shared link, one peer's with per-peer links. */
  readonly bytesOnBottleneck: number;
  /** Bytes written into peers in all. */
  readonly bytesReplicated: number;
  /** TCP streams sharing one bottleneck link. */
  readonly streamsPerLink: number;
  /** What TCP windows allow over that link, in bytes per second. */
  readonly windowLimitBytesPerSecond: number;
  readonly effectiveBandwidthBytesPerSecond: number;
  readonly bandwidthLimitedBy: 'link' | 'tcp-window';
  readonly overheadSeconds: number;
  readonly transferSeconds: number;
  /** The model's prediction: the sum of both terms. */
  readonly predictedSeconds: number;
  /** With perfect overlap of overhead and transfer: the larger term. */
  readonly lowerBoundSeconds: number;
  /** Data set bytes replicated everywhere per second of the prediction. */
  readonly throughputBytesPerSecond: number;
  readonly boundBy: 'bandwidth' | 'per-shard overhead';
  readonly assumptions: readonly string[];
}

/**
 * Shards in flight per peer datacenter at the consumers' defaults: one consumer instance moves at
 * most `SHARDSYNC_CONSUMER_MAX_TRANSFERS` (8) referenced payloads at once, whatever its batch
 * concurrency; a datacenter with n instances has n times that (pass `--concurrency`).
 */
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_TCP_WINDOW_BYTES = 4 * 1024 * 1024;

function positive(name: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`);
  }
}

/** Validates the input and fills defaults; errors name the option. */
export function compilePlanInput(input: PlanInput): Required<PlanInput> {
  positive('--size', input.sizeBytes);
  positive('--shard', input.shardBytes);
  positive('--bandwidth', input.bandwidthBytesPerSecond);
  positive('--rtt', input.rttMs, true);
  if (!Number.isInteger(input.datacenters) || input.datacenters < 2) {
    throw new UsageError(`--datacenters must be a whole number of at least 2 (the origin and one peer), got ${String(input.datacenters)}`);
  }
  const concurrency = input.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number of at least 1, got ${String(concurrency)}`);
  const perShardOverheadMs = input.perShardOverheadMs ?? 2 * input.rttMs + 5;
  positive('--per-shard-overhead-ms', perShardOverheadMs, true);
  const tcpWindowBytes = input.tcpWindowBytes ?? DEFAULT_TCP_WINDOW_BYTES;
  positive('--tcp-window', tcpWindowBytes);
  const link = input.link ?? 'shared';
  if (link !== 'shared' && link !== 'per-peer') throw new UsageError(`--link must be "shared" or "per-peer", got ${JSON.stringify(link)}`);
  return { ...input, concurrency, perShardOverheadMs, tcpWindowBytes, link };
}

/** The prediction for one input. Pure: unit-tested, and reused by the benchmark to compare with measurements. */
export function planReplication(raw: PlanInput): Plan {
  const input = compilePlanInput(raw);
  const peers = input.datacenters - 1;
  const shards = Math.ceil(input.sizeBytes / input.shardBytes);
  const shared = input.link === 'shared';
  // A data set of fewer shards than `concurrency` cannot have more in flight: one shard pays its
  // whole overhead and moves over one stream per peer.
  const inFlight = Math.min(input.concurrency, shards);
  const streamsPerLink = inFlight * (shared ? peers : 1);
  const windowLimit = input.rttMs === 0 ? Number.POSITIVE_INFINITY : (streamsPerLink * input.tcpWindowBytes) / (input.rttMs / 1000);
  const effective = Math.min(input.bandwidthBytesPerSecond, windowLimit);
  const bytesOnBottleneck = input.sizeBytes * (shared ? peers : 1);
  const overheadSeconds = (input.perShardOverheadMs / 1000) * (shards / inFlight);
  const transferSeconds = bytesOnBottleneck / effective;
  const predictedSeconds = overheadSeconds + transferSeconds;
  const defaultOverhead = raw.perShardOverheadMs === undefined;
  return {
    input,
    shards,
    peers,
    inFlight,
    bytesOnBottleneck,
    bytesReplicated: input.sizeBytes * peers,
    streamsPerLink,
    windowLimitBytesPerSecond: windowLimit,
    effectiveBandwidthBytesPerSecond: effective,
    bandwidthLimitedBy: windowLimit < input.bandwidthBytesPerSecond ? 'tcp-window' : 'link',
    overheadSeconds,
    transferSeconds,
    predictedSeconds,
    lowerBoundSeconds: Math.max(overheadSeconds, transferSeconds),
    throughputBytesPerSecond: predictedSeconds === 0 ? Number.POSITIVE_INFINITY : input.sizeBytes / predictedSeconds,
    boundBy: transferSeconds >= overheadSeconds ? 'bandwidth' : 'per-shard overhead',
    assumptions: [
      shared
        ? `fan-out shares one link: the ${peers} peer(s) pull every shard from the origin over its one egress link, which carries ${peers} x the data (--link per-peer for a full mesh)`
        : 'each peer has its own link to the origin (full mesh), so peers transfer in parallel (--link shared when the origin egress is one link)',
      `${input.concurrency} shard(s) in flight per peer; one TCP stream moves at most window / RTT (window ${input.tcpWindowBytes} bytes)`,
      defaultOverhead
        ? 'per-shard overhead = 2 x RTT + 5 ms: one round trip for the event to reach the peer, one for the shard GET to start, a few ms of local HEAD/PUT; calibrate with --per-shard-overhead-ms'
        : 'per-shard overhead as given by --per-shard-overhead-ms',
      'overhead and transfer are added (no overlap): an upper estimate; perfect pipelining tends to the larger term',
      'not counted: the upload to the origin store, Kafka, SHA-256 CPU time, retries',
    ],
  };
}
