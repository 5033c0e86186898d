import { randomUUID } from 'node:crypto';
import type { Topology } from '@shardsync/config';
import { PRODUCER_ID_PATTERN } from '@shardsync/events';
import { compileDigestTreeOptions } from '@shardsync/integrity';
import type { ObjectStore } from '@shardsync/objectstore';
import { TokenBucket } from './budget.js';
import { InvalidReconcileOptionsError, UnknownDatasetError } from './errors.js';

/** What to do with an object that has no shardsync metadata while no version of its key is known anywhere. */
export type UnmanagedPolicy = 'report' | 'adopt' | 'remove';

/**
 * What a pass should do: plain JSON, so a scheduled job, the CLI and a test can all describe a
 * pass the same way. Every field but `dataset` is optional; defaults are documented per field.
 */
export interface PassRequest {
  /** The dataset to compare (it names the datacenters that hold it in the topology). */
  readonly dataset: string;
  /** Datacenters to compare. Default: every datacenter of the dataset. At least one. */
  readonly datacenters?: readonly string[] | undefined;
  /**
   * Datacenters a repair may write to; the others are only read (sources). Default: all compared
   * datacenters. `shardsync reconcile --datacenter X` and `bootstrap --datacenter X` pass `[X]`.
   */
  readonly targets?: readonly string[] | undefined;
  /** Only keys under this prefix (relative to the dataset, e.g. `llama-70b/`). Default `''` (all). */
  readonly prefix?: string | undefined;
  /** Report what would be repaired and change nothing. Default false. */
  readonly dryRun?: boolean | undefined;
  /** Re-read every object's bytes and check its own SHA-256, to find bit rot. Default false. */
  readonly deep?: boolean | undefined;
  /** Deep mode's read budget over all datacenters, in bytes per second. Default 100 MiB/s. */
  readonly bytesPerSecond?: number | undefined;
  /** See {@link UnmanagedPolicy}. Default `report`: unmanaged objects are reported, never touched. */
  readonly unmanaged?: UnmanagedPolicy | undefined;
  /**
   * How long a tombstone matters: the consumer's `SHARDSYNC_TOMBSTONE_GRACE_MS`. An older
   * tombstone still decides against older objects but is not copied to datacenters that lack
   * it (the consumers expire them). Default 7 days.
   */
  readonly tombstoneGraceMs?: number | undefined;
  /** Digest tree leaf bits: `2 ** leafBits` key-hash buckets. Default 12. Agents and the reconciler must agree. */
  readonly leafBits?: number | undefined;
}

/** Where the reconciler finds a datacenter's store; `StorePool` from @shardsync/objectstore is one. */
export interface StoreLookup {
  of(datacenter: string): ObjectStore;
}

/** Progress of a pass, for progress bars and logs. */
export type PassProgress =
  | { readonly phase: 'list'; readonly datacenter: string; readonly objects: number; readonly tombstones: number }
  | { readonly phase: 'deep'; readonly datacenter: string; readonly objects: number; readonly bytes: number; readonly totalObjects: number; readonly totalBytes: number }
  | { readonly phase: 'compare'; readonly differingBuckets: number; readonly divergentKeys: number }
  | { readonly phase: 'repair'; readonly done: number; readonly total: number };

/** A {@link PassRequest} plus what a pass needs at run time. */
export interface PassOptions extends PassRequest {
  readonly topology: Topology;
  /** The stores (a StorePool over the topology leaves out what its `s3.artifacts` says a server lists on its own). */
  readonly stores: StoreLookup;
  /** Identifies the pass in reports and logs. Default: a random UUID. */
  readonly passId?: string | undefined;
  /** Divergent keys read and repaired at the same time. Default 8. */
  readonly keyConcurrency?: number | undefined;
  /** How often one key is re-read after a concurrent writer changed it mid-repair. Default 3. */
  readonly maxConflictRounds?: number | undefined;
  /** Producer id of versions given to adopted objects. Default `shardsync-reconciler`. */
  readonly adoptProducerId?: string | undefined;
  /** A budget shared with other passes of this process; overrides `bytesPerSecond`. */
  readonly budget?: TokenBucket | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: PassProgress) => void) | undefined;
  /** Clock in epoch milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** A validated {@link PassRequest} with every default filled in (still plain JSON). */
export interface CompiledPassRequest {
  readonly dataset: string;
  readonly datacenters: readonly string[];
  readonly targets: readonly string[];
  readonly prefix: string;
  readonly dryRun: boolean;
  readonly deep: boolean;
  readonly bytesPerSecond: number;
  readonly unmanaged: UnmanagedPolicy;
  readonly tombstoneGraceMs: number;
  readonly leafBits: number;
}

/** Everything the pass functions need, validated once by {@link createReconcileContext}. */
export interface ReconcileContext extends CompiledPassRequest {
  readonly passId: string;
  readonly stores: ReadonlyMap<string, ObjectStore>;
  readonly keyConcurrency: number;
  readonly maxConflictRounds: number;
  readonly adoptProducerId: string;
  readonly budget: TokenBucket | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: (progress: PassProgress) => void;
  readonly now: () => number;
}

export const DEFAULT_DEEP_BYTES_PER_SECOND = 100 * 1024 * 1024;
export const DEFAULT_TOMBSTONE_GRACE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_ADOPT_PRODUCER_ID = 'shardsync-reconciler';

function positiveInt(name: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new InvalidReconcileOptionsError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  return v;
}

function subset(what: string, given: readonly string[] | undefined, allowed: readonly string[], allowedWhat: string): readonly string[] {
  if (given === undefined) return allowed;
  if (given.length === 0) throw new InvalidReconcileOptionsError(`${what} must name at least one datacenter; known: ${allowed.join(', ')}`);
  for (const dc of given) {
    if (!allowed.includes(dc)) throw new InvalidReconcileOptionsError(`${what}: datacenter ${JSON.stringify(dc)} is not one of ${allowedWhat} (${allowed.join(', ')})`);
  }
  // Topology order, without repeats, so reports read the same whatever order the caller used.
  return allowed.filter((dc) => given.includes(dc));
}

/** Validates a request against the topology and fills defaults; throws errors that say what to change. */
export function compilePassRequest(topology: Topology, request: PassRequest): CompiledPassRequest {
  const dataset = topology.datasets.find((d) => d.name === request.dataset);
  if (dataset === undefined) throw new UnknownDatasetError(request.dataset, topology.datasets.map((d) => d.name));
  const datacenters = subset('datacenters', request.datacenters, dataset.datacenters, `the datacenters of dataset "${dataset.name}"`);
  const targets = subset('targets', request.targets, datacenters, 'the compared datacenters');
  const prefix = request.prefix ?? '';
  if (prefix.startsWith('/')) throw new InvalidReconcileOptionsError(`prefix ${JSON.stringify(prefix)} must be relative to the dataset; drop the leading "/"`);
  const bytesPerSecond = request.bytesPerSecond ?? DEFAULT_DEEP_BYTES_PER_SECOND;
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) {
    throw new InvalidReconcileOptionsError(`bytesPerSecond must be a positive number, got ${bytesPerSecond}`);
  }
  const unmanaged = request.unmanaged ?? 'report';
  if (!['report', 'adopt', 'remove'].includes(unmanaged)) {
    throw new InvalidReconcileOptionsError(`unmanaged must be "report", "adopt" or "remove", got ${JSON.stringify(unmanaged)}`);
  }
  const leafBits = compileDigestTreeOptions({ leafBits: request.leafBits }).leafBits;
  return {
    dataset: dataset.name,
    datacenters,
    targets,
    prefix,
    dryRun: request.dryRun ?? false,
    deep: request.deep ?? false,
    bytesPerSecond,
    unmanaged,
    tombstoneGraceMs: positiveInt('tombstoneGraceMs', request.tombstoneGraceMs, DEFAULT_TOMBSTONE_GRACE_MS),
    leafBits,
  };
}

/** Validates options, fills defaults and looks up the stores once. */
export function createReconcileContext(options: PassOptions): ReconcileContext {
  const request = compilePassRequest(options.topology, options);
  const adoptProducerId = options.adoptProducerId ?? DEFAULT_ADOPT_PRODUCER_ID;
  if (!PRODUCER_ID_PATTERN.test(adoptProducerId)) {
    throw new InvalidReconcileOptionsError(`adoptProducerId ${JSON.stringify(adoptProducerId)} is not a valid producer id (letters, digits, ".", "_", ":", "-")`);
  }
  const now = options.now ?? Date.now;
  return {
    ...request,
    passId: options.passId ?? randomUUID(),
    stores: new Map(request.datacenters.map((dc) => [dc, options.stores.of(dc)])),
    keyConcurrency: positiveInt('keyConcurrency', options.keyConcurrency, 8, 1024),
    maxConflictRounds: positiveInt('maxConflictRounds', options.maxConflictRounds, 3, 100),
    adoptProducerId,
    budget: request.deep ? (options.budget ?? new TokenBucket({ ratePerSecond: request.bytesPerSecond, now })) : undefined,
    signal: options.signal,
    onProgress: options.onProgress ?? (() => undefined),
    now,
  };
}
