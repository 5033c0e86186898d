import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { ObjectNotFoundError, RequestRejectedError, UnexpectedStoreError, UnsupportedOperationError } from './errors.js';
import type { S3Context } from './s3-context.js';
import type { UploadEntry } from './types.js';

/**
 * Every incomplete multipart upload under the prefix, in S3's order (key, then initiation), one
 * ListMultipartUploads page after the other (KeyMarker + UploadIdMarker).
 *
 * Entries without a key, upload id or initiation time are left out: they could be neither
 * aborted nor aged, and guessing an age could abort an upload still running. A server that does
 * not implement the call (HTTP 501) gives `UnsupportedOperationError`.
 */
export async function* s3ListUploads(ctx: S3Context, prefix: string | undefined, pageSize: number, signal: AbortSignal | undefined): AsyncGenerator<UploadEntry, void, undefined> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await ctx
      .call('ListMultipartUploads', prefix, signal, (abortSignal) =>
        ctx.client.send(
          withAbortSignal(
            new ListMultipartUploadsCommand({ Bucket: ctx.bucket, Prefix: prefix, MaxUploads: pageSize, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
            abortSignal,
          ),
        ),
      )
      .catch((err: unknown) => {
        if (err instanceof RequestRejectedError && err.statusCode === 501) {
          throw new UnsupportedOperationError(
            `the S3 server of datacenter ${ctx.datacenter} (${ctx.endpoint}) does not implement ListMultipartUploads, so incomplete uploads in bucket "${ctx.bucket}" cannot be found; ` +
              'set a lifecycle rule AbortIncompleteMultipartUpload on the bucket instead',
            { cause: err, statusCode: 501 },
          );
        }
        throw err;
      });
    for (const u of page.Uploads ?? []) {
      const initiatedMs = u.Initiated?.getTime();
      if (u.Key === undefined || u.UploadId === undefined || initiatedMs === undefined || Number.isNaN(initiatedMs)) continue;
      yield { key: u.Key, uploadId: u.UploadId, initiatedMs };
    }
    if (page.IsTruncated !== true) return;
    const nextKey = page.NextKeyMarker;
    // An empty upload-id marker is no marker, on both sides of the comparison below.
    const nextUploadId = page.NextUploadIdMarker === '' ? undefined : page.NextUploadIdMarker;
    // A truncated page that does not move the markers forward would make this loop forever.
    if (nextKey === undefined || nextKey === '' || (nextKey === keyMarker && nextUploadId === uploadIdMarker)) {
      throw new UnexpectedStoreError(
        `ListMultipartUploads of bucket "${ctx.bucket}" (datacenter ${ctx.datacenter}) said the listing is truncated but gave no next marker past ${JSON.stringify(keyMarker ?? '')}`,
      );
    }
    keyMarker = nextKey;
    uploadIdMarker = nextUploadId;
  }
}

/**
 * AbortMultipartUpload. `false` when the server does not know the upload (NoSuchUpload, 404): it
 * was completed or aborted since it was listed, which is what the caller wanted anyway.
 */
export async function s3AbortUpload(ctx: S3Context, key: string, uploadId: string, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    return await ctx.call('AbortMultipartUpload', key, signal, async (abortSignal) => {
      try {
        await ctx.client.send(withAbortSignal(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId }), abortSignal));
        return true;
      } catch (err) {
        // Told apart before classification, which calls NoSuchUpload retriable: for a put it
        // means "start again", here it means "already done".
        if ((err as { name?: unknown } | null)?.name === 'NoSuchUpload') return false;
        throw err;
      }
    });
  } catch (err) {
    // A server that answers a bare 404 without the S3 error code means the same.
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
}
