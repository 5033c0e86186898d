import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { UnexpectedStoreError } from './errors.js';
import { normalizeEtag } from './etag.js';
import type { CompiledObjectStoreOptions } from './options.js';
import type { S3Context } from './s3-context.js';
import { fastListObjectsV2Command } from './s3-list-deserializer.js';
import type { ListEntry } from './types.js';

/** What the listing functions need from the store. */
export interface ListTarget {
  readonly client: S3Client;
  readonly ctx: S3Context;
  readonly bucket: string;
  readonly datacenter: string;
  readonly options: CompiledObjectStoreOptions;
}

interface Page {
  readonly entries: ListEntry[];
  readonly folders: string[];
}

/**
 * One ListObjectsV2 page, filtered: entries without an ETag and keys the store excludes are
 * dropped. s3proxy's `filesystem` backend lists such entries: every directory of the key space
 * (`ds/`, size 4096) and the temporary file of each write in progress (`<key>-<uuid>`); no stored
 * object lacks an ETag, and an entry without one could not be compared anyway.
 */
async function listPage(
  target: ListTarget,
  request: { prefix: string | undefined; delimiter?: string; startAfter?: string | undefined; token: string | undefined; pageSize: number },
  signal: AbortSignal | undefined,
): Promise<Page & { next: string | undefined }> {
  const page: ListObjectsV2CommandOutput = await target.ctx.call('ListObjectsV2', request.prefix, signal, (abortSignal) =>
    target.client.send(
      withAbortSignal(
        fastListObjectsV2Command({
          Bucket: target.bucket,
          Prefix: request.prefix,
          Delimiter: request.delimiter,
          // Only on the first page: the continuation token already encodes the position.
          StartAfter: request.token === undefined ? request.startAfter : undefined,
          ContinuationToken: request.token,
          MaxKeys: request.pageSize,
          // S3 allows keys with characters XML 1.0 cannot carry (controls, NUL): unencoded, the
          // server sends a page no parser takes (s3proxy cuts it short), and one such key would
          // fail every listing of its prefix. Encoded, every key arrives; decoded below.
          EncodingType: 'url',
        }),
        abortSignal,
      ),
    ),
  );
  const exclude = target.options.listExclude;
  // A server that ignores encoding-type says so by not echoing it: its keys are as they are.
  const decode = page.EncodingType === 'url' ? (text: string) => urlDecodedKey(text, target) : (text: string) => text;
  const entries: ListEntry[] = [];
  for (const o of page.Contents ?? []) {
    if (o.Key === undefined || o.ETag === undefined) continue;
    const key = decode(o.Key);
    if (exclude?.(key) === true) continue;
    entries.push({ key, size: o.Size ?? 0, etag: normalizeEtag(o.ETag), lastModified: o.LastModified ?? new Date(0) });
  }
  const folders = (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [decode(p.Prefix)]));
  const next = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  if (page.IsTruncated === true && next === undefined) {
    throw new UnexpectedStoreError(`ListObjectsV2 of bucket "${target.bucket}" (datacenter ${target.datacenter}) said the listing is truncated but gave no continuation token`);
  }
  return { entries, folders, next };
}

/**
 * A key (or prefix) as an `encoding-type=url` listing gives it. AWS encodes a space as `+` (and a
 * `+` as `%2B`), other servers as `%20`: both decode to the key.
 */
function urlDecodedKey(text: string, target: ListTarget): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch (cause) {
    throw new UnexpectedStoreError(`ListObjectsV2 of bucket "${target.bucket}" (datacenter ${target.datacenter}) listed key ${JSON.stringify(text)}, which is not URL-encoded as asked`, { cause });
  }
}

/** Every key under the prefix in S3's order: one recursive listing, page after page. */
export async function* listFlat(
  target: ListTarget,
  prefix: string | undefined,
  startAfter: string | undefined,
  pageSize: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<ListEntry, void, undefined> {
  let token: string | undefined;
  do {
    const page = await listPage(target, { prefix, startAfter, token, pageSize }, signal);
    yield* page.entries;
    token = page.next;
  } while (token !== undefined);
}

/**
 * Every key under the prefix, in no particular order, listed folder by folder: a delimited
 * listing of each folder (`/`-separated), descending into its sub-folders, up to `concurrency`
 * folders at once.
 *
 * Why: some S3-compatible servers (s3proxy's filesystem backends) answer every page of a
 * recursive listing by walking the whole subtree under the prefix, so listing N keys that way
 * costs O(N^2 / page size); a folder's listing costs only what the folder holds. On AWS S3 a flat
 * listing is cheaper (one request per 1000 keys however they nest), so this is opt-in per
 * datacenter (`listing: folders` in the topology).
 */
export async function* listFolders(
  target: ListTarget,
  prefix: string | undefined,
  pageSize: number,
  concurrency: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<ListEntry, void, undefined> {
  const pending: string[] = [prefix ?? ''];
  const ready: ListEntry[][] = [];
  let running = 0;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // Pages waiting to be consumed; folders are not started while this many are buffered, so a slow
  // consumer bounds memory at about (concurrency + maxBuffered) pages.
  const maxBuffered = concurrency * 2;
  const walk = async (folder: string): Promise<void> => {
    let token: string | undefined;
    do {
      const page = await listPage(target, { prefix: folder === '' ? undefined : folder, delimiter: '/', token, pageSize }, signal);
      pending.push(...page.folders);
      if (page.entries.length > 0) ready.push(page.entries);
      notify();
      token = page.next;
    } while (token !== undefined && !stopped);
  };
  const start = (): void => {
    while (!stopped && running < concurrency && ready.length < maxBuffered && pending.length > 0) {
      const folder = pending.pop() ?? '';
      running++;
      walk(folder).then(
        () => {
          running--;
          notify();
        },
        (error: unknown) => {
          running--;
          if (!stopped) failure = { error };
          stopped = true;
          notify();
        },
      );
    }
  };
  try {
    for (;;) {
      if (failure !== undefined) throw failure.error;
      start();
      const entries = ready.shift();
      if (entries !== undefined) {
        yield* entries;
        continue;
      }
      if (running === 0 && pending.length === 0) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    // A consumer that stops early (or a failure) starts no more folders; pages in flight finish unread.
    stopped = true;
  }
}
