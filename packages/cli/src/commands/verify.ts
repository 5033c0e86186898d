import { validateObjectKey } from '@shardsync/events';
import { inspectKey, type KeyInspection } from '@shardsync/reconcile';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandResult } from '../output.js';
import { shellWord } from '../shell.js';
import { renderTable } from '../table.js';
import { formatBytes } from '../units.js';
import { requireDataset, tombstoneGraceFromEnv } from './common.js';

export interface VerifyOptions {
  /** Also read every copy's bytes and check them against its recorded SHA-256. Default false. */
  readonly deep?: boolean | undefined;
}

/** What `verify` reports: the inspection, and whether any datacenter holds the key at all. */
export type VerifyReport = KeyInspection & {
  /** False when every datacenter was read and none holds an object or a tombstone of the key. */
  readonly found: boolean;
};

/**
 * One key in every datacenter of its dataset: version, SHA-256, size and tombstone (a HEAD of the
 * object and of its tombstone), and how each copy compares with the winner by the rule passes use.
 * Exit 0 when all agree, 1 when they do not, 2 when a datacenter could not be read, 3 when no
 * datacenter holds the key (neither an object nor a tombstone).
 */
export async function verify(ctx: CliContext, dataset: string, key: string, options: VerifyOptions = {}): Promise<CommandResult<VerifyReport>> {
  requireDataset(ctx.topology, dataset);
  const valid = validateObjectKey(key);
  if (!valid.ok) throw new UsageError(`key: ${valid.message}`);
  const inspection = await inspectKey({ topology: ctx.topology, stores: ctx.stores(), dataset, key, verifyBytes: options.deep ?? false, tombstoneGraceMs: tombstoneGraceFromEnv(ctx.env), signal: ctx.signal, now: ctx.now });
  const report: VerifyReport = { ...inspection, found: isFound(inspection) };
  return { data: report, text: renderVerify(report), exitCode: verifyExitCode(report) };
}

/**
 * Whether some datacenter holds the key. A datacenter that could not be read might, so it counts
 * as found: its error decides the exit code.
 */
function isFound(inspection: KeyInspection): boolean {
  return inspection.copies.some((c) => c.error !== undefined || c.object !== undefined || c.tombstone !== undefined);
}

function verifyExitCode(report: VerifyReport): ExitCode {
  if (report.copies.some((c) => c.error !== undefined)) return ExitCode.error;
  // Every copy is "equal" to no winner at all; a typo must not pass for datacenters that agree.
  if (!report.found) return ExitCode.notFound;
  return report.agree ? ExitCode.ok : ExitCode.divergence;
}

const short = (sha: string | undefined) => (sha === undefined ? '-' : `${sha.slice(0, 16)}…`);

export function renderVerify(inspection: VerifyReport): string {
  const w = inspection.winner;
  const winner =
    w === undefined
      ? 'no version of this key exists in any datacenter'
      : w.kind === 'delete'
        ? `deleted at version ${w.version}`
        : `version ${w.version}, sha256 ${w.sha256 ?? '(none)'}, ${w.size === undefined ? 'size unknown' : `${formatBytes(w.size)} (${w.size} bytes)`}`;
  const rows = inspection.copies.map((c) => {
    if (c.error !== undefined) return [c.datacenter, 'unreadable', '', '', '', '', `${c.error.code}: ${c.error.message}`];
    const o = c.object;
    return [
      c.datacenter,
      c.status ?? '?',
      o === undefined ? '-' : (o.version ?? '(no shardsync metadata)'),
      o === undefined ? '-' : short(o.sha256),
      o === undefined ? '-' : String(o.size),
      o === undefined || o.integrity === 'unchecked' ? '' : o.integrity,
      c.tombstone === undefined ? '-' : `${c.tombstone.version ?? '(malformed)'} at ${c.tombstone.deletedAt}`,
    ];
  });
  const table = renderTable(
    [
      { header: 'DATACENTER' },
      { header: 'STATUS' },
      { header: 'VERSION' },
      { header: 'SHA-256' },
      { header: 'SIZE', align: 'right' },
      { header: 'BYTES' },
      { header: 'TOMBSTONE' },
    ],
    rows,
  );
  const verdict = `result: ${verdictOf(inspection)}`;
  // Keys are relative to the dataset: one that repeats its name names another key.
  const doubled = w === undefined && inspection.key.startsWith(`${inspection.dataset}/`);
  const note = doubled ? `\nnote: the key is relative to the dataset; did you mean ${JSON.stringify(inspection.key.slice(inspection.dataset.length + 1))}?` : '';
  return `${inspection.dataset}/${inspection.key}\nwinner: ${winner}\n\n${table}\n\n${verdict}${note}`;
}

function verdictOf(report: VerifyReport): string {
  if (report.copies.some((c) => c.error !== undefined)) return 'some datacenters could not be read';
  if (!report.found) return 'no datacenter holds this key (neither an object nor a tombstone); check its spelling';
  return report.agree ? 'the datacenters agree' : `the datacenters disagree; repair with: ${repairCommand(report)}`;
}

/**
 * The reconcile that repairs what `verify` found: `--deep` for a corrupt copy (rotten bytes keep
 * their ETag, so only a pass that reads the bytes sees them), and the choice an unmanaged object
 * needs (a pass without it only reports the object).
 */
function repairCommand(inspection: KeyInspection): string {
  // --key, not --prefix: a prefix would also reach every key that starts with this one.
  const base = `shardsync reconcile --dataset ${inspection.dataset} --key ${shellWord(inspection.key)}`;
  const deep = inspection.copies.some((c) => c.status === 'corrupt') ? ' --deep' : '';
  const unmanaged = inspection.copies.filter((c) => c.status === 'unmanaged');
  if (unmanaged.length === 0) return `${base}${deep}`;
  // Adopting needs one object to adopt: different ones must be narrowed down by hand first.
  if (new Set(unmanaged.map((c) => c.object?.etag)).size > 1) return `${base}${deep} --remove-unmanaged (deletes them all), or delete all but one by hand, then --adopt-unmanaged`;
  return `${base}${deep} --adopt-unmanaged (replicates it) or --remove-unmanaged (deletes it)`;
}
