import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { missingAsPreconditionFailure, type ConditionalHeaders } from './conditional.js';
import { EtagRuleViolationError, UnexpectedStoreError } from './errors.js';
import { multipartEtag, normalizeEtag, sameEtag } from './etag.js';
import type { S3Context } from './s3-context.js';

/**
 * Uploads (or copies) one part and resolves with the part's ETag. `signal` is the caller's: parts
 * are not cancelled when a sibling fails (see {@link runMultipart}).
 */
export type PartTask = (uploadId: string, partNumber: number, signal: AbortSignal | undefined) => Promise<string>;

/** What a multipart write consists of; {@link runMultipart} drives it. */
export interface MultipartPlan {
  readonly key: string;
  readonly metadata: Record<string, string>;
  readonly contentType: string | undefined;
  /** The caller's signal. */
  readonly signal: AbortSignal | undefined;
  /**
   * The next part, or `undefined` after the last. Called one at a time, and only when fewer than
   * `partConcurrency` parts are in flight, which is what bounds memory. `stop` fires when the
   * upload fails or is aborted, so a plan waiting on a slow source can stop reading.
   */
  nextPart(stop: AbortSignal): Promise<PartTask | undefined>;
  /** Runs after every part is stored and before completion: verify, then return conditional headers. */
  beforeComplete(): Promise<ConditionalHeaders>;
}

/**
 * Runs a multipart upload: CreateMultipartUpload, parts with bounded concurrency, then
 * CompleteMultipartUpload. On any failure (a part, the source, verification, a precondition) no
 * new part is started, the parts in flight are let finish, and then the upload is aborted, so
 * nothing becomes visible under the key and no incomplete upload is left.
 *
 * In-flight parts are not cancelled on a sibling's failure: a part request cut off mid-body can
 * still be written by the server after the abort (s3proxy's filesystem backend then shows an
 * orphan upload that cannot be aborted; S3 documents the same race). Only the caller's own
 * signal cancels them; for that case, and for a failed abort, a bucket lifecycle rule
 * `AbortIncompleteMultipartUpload` is the backstop.
 *
 * Resolves with the object's ETag, checked against the parts' ETags when `verifyEtags` is on.
 */
export async function runMultipart(ctx: S3Context, plan: MultipartPlan): Promise<string> {
  const { key, signal } = plan;
  const created = await ctx.call('CreateMultipartUpload', key, signal, (abortSignal) =>
    ctx.client.send(withAbortSignal(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, Metadata: plan.metadata, ContentType: plan.contentType }), abortSignal)),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new UnexpectedStoreError(`CreateMultipartUpload of key ${JSON.stringify(key)} returned no UploadId`);

  const stopReading = new AbortController();
  // The caller's signal stops the reading too. Not through AbortSignal.any: Node 20 keeps every
  // signal it makes in a never-pruned set on its sources, and a caller's signal may live as long
  // as the service (one entry per upload, for good).
  const onAbort = (): void => stopReading.abort(signal?.reason);
  if (signal?.aborted === true) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const stop = stopReading.signal;
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let failure: { error: unknown } | undefined;
  let completed: { ETag?: string | undefined };

  try {
    for (let partNumber = 1; failure === undefined; partNumber++) {
      const task = await plan.nextPart(stop);
      if (task === undefined || failure !== undefined) break;
      const number = partNumber;
      const running: Promise<void> = task(uploadId, number, signal).then(
        (etag) => {
          parts.push({ PartNumber: number, ETag: etag });
        },
        (error: unknown) => {
          failure ??= { error };
          stopReading.abort(error);
        },
      );
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
      while (inFlight.size >= ctx.options.partConcurrency && failure === undefined) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure.error;
    if (signal?.aborted === true) throw ctx.aborted('multipart upload', key, signal);

    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    const conditions = await plan.beforeComplete();
    completed = await ctx
      .call('CompleteMultipartUpload', key, signal, (abortSignal) =>
        ctx.client.send(withAbortSignal(new CompleteMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...conditions }), abortSignal)),
      )
      .catch((err: unknown) => {
        throw missingAsPreconditionFailure(err, conditions);
      });
  } catch (err) {
    failure ??= { error: err };
    stopReading.abort(err);
    await Promise.allSettled(inFlight);
    await ctx
      .call('AbortMultipartUpload', key, AbortSignal.timeout(ctx.options.cleanupTimeoutMs), (abortSignal) =>
        ctx.client.send(withAbortSignal(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId }), abortSignal)),
      )
      .catch(() => undefined);
    // Report the first failure, not its echoes (a source destroyed because a part failed).
    throw failure.error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return verifyCompletedEtag(ctx, key, completed.ETag, parts);
}

function verifyCompletedEtag(ctx: S3Context, key: string, etag: string | undefined, parts: readonly CompletedPart[]): string {
  const actual = normalizeEtag(etag ?? '');
  if (!ctx.options.verifyEtags) return actual;
  const md5s = parts.map((p) => Buffer.from(normalizeEtag(p.ETag ?? '').slice(1, -1), 'hex'));
  const expected = multipartEtag(md5s);
  if (!sameEtag(actual, expected)) {
    throw new EtagRuleViolationError(
      `CompleteMultipartUpload of key ${JSON.stringify(key)} in bucket "${ctx.bucket}" (datacenter ${ctx.datacenter}) returned ETag ${actual}, ` +
        `but the MD5-of-part-MD5s rule gives ${expected}; the object was stored, yet listings cannot be compared by ETag on this server ` +
        '(set verifyEtags: false to accept it, and compare by HEAD metadata instead)',
    );
  }
  return actual;
}
