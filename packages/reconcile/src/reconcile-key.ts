import { compareVersions, formatVersion, META, objectKeyOf } from '@shardsync/events';
import { hashStream } from '@shardsync/integrity';
import { comparableEtag, type ObjectStore } from '@shardsync/objectstore';
import { countingStores, RequestCounter, type RequestCounts } from './counting.js';
import { decideKey, type KeyDecision } from './decide.js';
import { describeFailure, RepairConflictError, type FailureInfo } from './errors.js';
import type { CopyOutcome, CopyState, CopyStatus, KeyOutcome, ListedState, RepairAction, RepairResult } from './model.js';
import type { ReconcileContext } from './options.js';
import { confirmInferred, readCopies, readCopiesFully } from './read-state.js';
import { applyRepair, StateChangedError, type RepairEffects } from './repair.js';

interface CopyRecord {
  action?: RepairAction['type'];
  result?: RepairResult;
  failure?: FailureInfo;
}

/**
 * Reads, decides and repairs one key: the unit both a pass and a repair job run.
 *
 * With `listed` (what the pass's listings held) the read costs one HEAD per distinct state; without
 * it (a retried repair job, `shardsync verify`) every datacenter is HEADed. When a write finds the
 * key changed, every datacenter is read again and the key decided again, up to
 * `maxConflictRounds` times; a key that keeps moving fails with a retriable `RepairConflictError`.
 * Never throws for a per-key failure: it is recorded in the outcome.
 */
export async function reconcileKey(ctx: ReconcileContext, key: string, listed?: Readonly<Record<string, ListedState>>): Promise<KeyOutcome> {
  const counter = new RequestCounter();
  const stores = countingStores(ctx.stores, counter);
  const target = { stores, dataset: ctx.dataset, key, signal: ctx.signal };
  const effects: RepairEffects = { bytes: 0, corruptSources: new Set() };
  const found = new Map<string, CopyStatus>();
  const records = new Map<string, CopyRecord>();
  let decision: KeyDecision | undefined;
  try {
    let copies = listed === undefined ? await readCopiesFully(stores, ctx.dataset, key, ctx.signal) : await readCopies(stores, ctx.dataset, key, listed, ctx.signal);
    for (let round = 1; ; round++) {
      copies = markCorrupt(copies, effects.corruptSources);
      if (!ctx.deep) copies = await checkDisagreeingCopies(stores, ctx.dataset, key, copies, ctx.signal);
      decision = decideKey(copies, { unmanaged: ctx.unmanaged, key, nowMs: ctx.now(), tombstoneGraceMs: ctx.tombstoneGraceMs });
      // A copy about to be repaired whose version was inferred (from its ETag, or from a deep
      // scan's read) is read first: the same bytes may carry a newer version, which would change
      // the decision.
      // Until none is left: a confirmed copy can change the winner, and so which copies get repaired.
      for (;;) {
        const current = decision;
        const inferred = [...current.copies].filter(([dc, c]) => c.action !== undefined && copies.get(dc)?.object?.inferred === true).map(([dc]) => dc);
        if (inferred.length === 0) break;
        copies = await confirmInferred(stores, ctx.dataset, key, copies, inferred, ctx.signal);
        decision = decideKey(copies, { unmanaged: ctx.unmanaged, key, nowMs: ctx.now(), tombstoneGraceMs: ctx.tombstoneGraceMs });
      }
      for (const [dc, copy] of decision.copies) if (copy.status !== 'equal' && !found.has(dc)) found.set(dc, copy.status);
      const changed = await runRound(ctx, target, decision, copies, effects, records);
      if (!changed || round >= ctx.maxConflictRounds) {
        if (changed) markConflicts(records, key);
        break;
      }
      copies = await readCopiesFully(stores, ctx.dataset, key, ctx.signal);
    }
  } catch (err) {
    // Reading failed (a store is down): every copy that was found divergent fails with that error.
    const failure = describeFailure(err);
    for (const dc of ctx.datacenters) if (records.get(dc)?.result !== 'repaired') records.set(dc, { ...records.get(dc), result: 'failed', failure });
    if (found.size === 0) for (const dc of ctx.datacenters) found.set(dc, 'equal');
  }
  return outcome(ctx, key, decision, found, records, effects.bytes, { ...counter.counts }, listed);
}

/**
 * Runs the repairs one decision calls for. Returns true when the key must be read again: a write
 * found the key changed, an adoption gave it a version, or a source turned out corrupt.
 */
async function runRound(
  ctx: ReconcileContext,
  target: Parameters<typeof applyRepair>[0],
  decision: KeyDecision,
  copies: ReadonlyMap<string, CopyState>,
  effects: RepairEffects,
  records: Map<string, CopyRecord>,
): Promise<boolean> {
  const work: Array<[string, RepairAction]> = [];
  for (const [dc, copy] of decision.copies) {
    const previous = records.get(dc);
    if (copy.blocked !== undefined) {
      records.set(dc, { result: 'failed', failure: { ...copy.blocked, retriable: false } });
    } else if (copy.action === undefined) {
      // Became equal after we had to re-read: a consumer (or our earlier write) settled it.
      if (previous !== undefined && previous.result !== 'repaired') records.set(dc, { ...previous, result: copy.status === 'equal' ? 'superseded' : 'skipped' });
      else if (copy.status !== 'equal') records.set(dc, { result: 'skipped' });
    } else if (ctx.dryRun) {
      records.set(dc, { action: copy.action.type, result: 'planned' });
    } else if (!ctx.targets.includes(dc)) {
      records.set(dc, { action: copy.action.type, result: 'skipped' });
    } else {
      work.push([dc, copy.action]);
    }
  }
  if (work.length === 0) return false;
  // An adoption changes which state wins; do it alone and decide again from what it wrote.
  const adoption = work.find(([, a]) => a.type === 'adopt');
  const batch = adoption === undefined ? work : [adoption];
  const corruptBefore = effects.corruptSources.size;
  let changed = adoption !== undefined;
  await Promise.all(
    batch.map(async ([dc, action]) => {
      try {
        await applyRepair(target, dc, action, copies.get(dc) ?? {}, decision.winner, effects, { producerId: ctx.adoptProducerId, now: ctx.now });
        records.set(dc, { action: action.type, result: 'repaired' });
      } catch (err) {
        if (err instanceof StateChangedError) changed = true;
        records.set(dc, { action: action.type, result: 'failed', failure: describeFailure(err instanceof StateChangedError ? new RepairConflictError(err.message, err) : err) });
      }
    }),
  );
  return changed || effects.corruptSources.size > corruptBefore;
}

function markConflicts(records: Map<string, CopyRecord>, key: string): void {
  for (const [dc, record] of records) {
    if (record.failure?.code === 'SHARDSYNC_RECONCILE_CONFLICT') {
      records.set(dc, { ...record, failure: { ...record.failure, message: `${key} kept changing while it was repaired in ${dc}; a later pass will find it settled` } });
    }
  }
}

/** Applies what repairs learned: a copy whose bytes failed verification as a source is corrupt. */
function markCorrupt(copies: Map<string, CopyState>, corrupt: ReadonlySet<string>): Map<string, CopyState> {
  if (corrupt.size === 0) return copies;
  return new Map(
    [...copies].map(([dc, s]) => [dc, s.object !== undefined && corrupt.has(`${dc}\0${s.object.etag}`) ? { ...s, object: { ...s.object, integrity: 'corrupt' as const } } : s]),
  );
}

/**
 * Copies of the newest version whose ETags differ cannot all hold the same bytes: one was
 * changed behind shardsync's back (with its metadata kept) or rotted in a way that changed its
 * ETag. Read each distinct one and check it against its own SHA-256, so the decision knows which
 * to trust. Rare, and bounded by the number of distinct ETags.
 */
async function checkDisagreeingCopies(
  stores: ReadonlyMap<string, ObjectStore>,
  dataset: string,
  key: string,
  copies: Map<string, CopyState>,
  signal: AbortSignal | undefined,
): Promise<Map<string, CopyState>> {
  let newest: CopyState['object'];
  for (const { object } of copies.values()) {
    if (object?.version !== undefined && (newest?.version === undefined || compareVersions(object.version, newest.version) > 0)) newest = object;
  }
  const version = newest?.version;
  if (version === undefined) return copies;
  const holders = [...copies].filter(([, s]) => s.object?.version !== undefined && compareVersions(s.object.version, version) === 0 && s.object.integrity === 'unchecked');
  // Distinct ETags as compared (servers spell the same MD5 in either case), each with a datacenter
  // holding it and that datacenter's own spelling, which its If-Match must send.
  const etags = new Map<string, { dc: string; etag: string }>();
  for (const [dc, s] of holders) if (s.object !== undefined && !etags.has(comparableEtag(s.object.etag))) etags.set(comparableEtag(s.object.etag), { dc, etag: s.object.etag });
  if (etags.size < 2) return copies;
  const verdicts = new Map<string, 'ok' | 'corrupt'>();
  for (const [comparable, { dc, etag }] of etags) {
    const store = stores.get(dc);
    if (store === undefined) continue;
    const { info, body } = await store.get(objectKeyOf(dataset, key), { ifMatch: etag, signal });
    const digest = await hashStream(body).finally(() => body.destroy());
    verdicts.set(comparable, digest.sha256 === info.metadata[META.sha256]?.toLowerCase() && digest.size === info.size ? 'ok' : 'corrupt');
  }
  return new Map(
    [...copies].map(([dc, s]) => {
      const verdict = s.object === undefined ? undefined : verdicts.get(comparableEtag(s.object.etag));
      return [dc, verdict === undefined || s.object === undefined || s.object.version === undefined ? s : { ...s, object: { ...s.object, integrity: verdict } }];
    }),
  );
}

function outcome(
  ctx: ReconcileContext,
  key: string,
  decision: KeyDecision | undefined,
  found: ReadonlyMap<string, CopyStatus>,
  records: ReadonlyMap<string, CopyRecord>,
  bytesMoved: number,
  requests: RequestCounts,
  listed: Readonly<Record<string, ListedState>> | undefined,
): KeyOutcome {
  const copies: Record<string, CopyOutcome> = {};
  for (const dc of ctx.datacenters) {
    const status = unscannedAsMissing(found.get(dc) ?? 'equal', listed, dc);
    const record = records.get(dc);
    copies[dc] = status === 'equal' && record?.result !== 'failed' ? { status } : { status, action: record?.action, result: record?.result ?? 'superseded', failure: record?.failure };
  }
  const winner = decision?.winner;
  return {
    key,
    winner:
      winner === undefined
        ? undefined
        : winner.kind === 'put'
          ? { kind: 'put', version: formatVersion(winner.version), sha256: winner.sha256, size: winner.size }
          : { kind: 'delete', version: formatVersion(winner.version) },
    copies,
    bytesMoved,
    requests,
  };
}

/**
 * A copy the pass's listing left out of the datacenter's digest tree (it listed nothing, or only
 * a tombstone past the grace period, which the comparison ignores) is not one of that
 * datacenter's scanned keys. Reported as `stale`, it would be taken off the `equal` count of keys
 * that do hold the winner; to the comparison it lists nothing, so it is `missing`.
 */
function unscannedAsMissing(status: CopyStatus, listed: Readonly<Record<string, ListedState>> | undefined, dc: string): CopyStatus {
  return status === 'stale' && listed !== undefined && listed[dc]?.fingerprint === undefined ? 'missing' : status;
}
