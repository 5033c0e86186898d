import { CopyObjectCommand, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { missingAsPreconditionFailure, type ConditionalWrites } from './conditional.js';
import { EtagRuleViolationError, ObjectNotFoundError, PreconditionFailedError, UnexpectedStoreError } from './errors.js';
import { normalizeEtag, objectLayout, sameEtag } from './etag.js';
import { runMultipart } from './multipart.js';
import type { S3Context } from './s3-context.js';
import type { CopyOptions, CopyResult } from './types.js';
import { normalizeConditions, normalizeMetadata, validateKey } from './validate.js';

/**
 * copy() against S3, server-side. The copy is written with the same layout a put() of the same
 * size would use (CopyObject up to `singlePutMaxBytes`, UploadPartCopy with `partSizeBytes`
 * ranges above), so its ETag follows the rule too; a plain CopyObject of a 100 MiB object would
 * get a single-part ETag and stand out in every listing comparison. Every request carries
 * `x-amz-copy-source-if-match` with the source's ETag, so a source replaced mid-copy fails the
 * copy (`PreconditionFailedError`) instead of mixing two versions.
 */
export async function s3Copy(
  ctx: S3Context,
  conditional: ConditionalWrites,
  sourceKey: string,
  destinationKey: string,
  options: CopyOptions = {},
): Promise<CopyResult> {
  ctx.assertOpen('CopyObject');
  validateKey(sourceKey, 'source key');
  validateKey(destinationKey, 'destination key');
  const conditions = normalizeConditions(options);
  const { signal } = options;
  const source = await ctx.head(sourceKey, signal);
  const what = `copy of key ${JSON.stringify(sourceKey)} to ${JSON.stringify(destinationKey)} in bucket "${ctx.bucket}" (datacenter ${ctx.datacenter})`;
  if (source === undefined) throw new ObjectNotFoundError(`${what} failed: the source does not exist`, { statusCode: 404 });
  if (options.sourceIfMatch !== undefined && !sameEtag(options.sourceIfMatch, source.etag)) {
    throw new PreconditionFailedError(`${what} failed: the source's ETag is ${source.etag}, not ${normalizeEtag(options.sourceIfMatch)}`, { statusCode: 412 });
  }
  const metadata = options.metadata === undefined ? { ...source.metadata } : normalizeMetadata(options.metadata);
  const contentType = options.contentType ?? source.contentType;
  const copySource = `${ctx.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
  const layout = objectLayout(source.size, ctx.options);

  if (layout.kind === 'single') {
    const headers = await conditional.prepare(destinationKey, conditions, 'CopyObject', signal);
    const sent = ctx.call('CopyObject', destinationKey, signal, (abortSignal) =>
      ctx.client.send(
        withAbortSignal(
          new CopyObjectCommand({
            Bucket: ctx.bucket,
            Key: destinationKey,
            CopySource: copySource,
            CopySourceIfMatch: source.etag,
            MetadataDirective: 'REPLACE',
            Metadata: metadata,
            ContentType: contentType,
            ...headers,
          }),
          abortSignal,
        ),
      ),
    );
    const out = await sent.catch((err: unknown) => {
      throw missingAsPreconditionFailure(err, headers);
    });
    const etag = normalizeEtag(out.CopyObjectResult?.ETag ?? '');
    // Same bytes, same single-request layout: same MD5. (A source written another way, e.g. as
    // multipart by another tool, legitimately gets a new ETag.)
    if (ctx.options.verifyEtags && !source.etag.includes('-') && !sameEtag(etag, source.etag)) {
      throw new EtagRuleViolationError(`${what} produced ETag ${etag} for a body whose MD5 ETag is ${source.etag}; this server does not compute ETags as MD5`);
    }
    return { etag, size: source.size };
  }

  await conditional.check(destinationKey, conditions, 'CopyObject', signal);
  let next = 0;
  const etag = await runMultipart(ctx, {
    key: destinationKey,
    metadata,
    contentType,
    signal,
    nextPart: () => {
      if (next >= layout.partCount) return Promise.resolve(undefined);
      const start = next * layout.partSizeBytes;
      const end = Math.min(source.size, start + layout.partSizeBytes) - 1;
      next++;
      return Promise.resolve(async (uploadId: string, partNumber: number, partSignal: AbortSignal | undefined) => {
        const out = await ctx.call('UploadPartCopy', destinationKey, partSignal, (abortSignal) =>
          ctx.client.send(
            withAbortSignal(
              new UploadPartCopyCommand({
                Bucket: ctx.bucket,
                Key: destinationKey,
                UploadId: uploadId,
                PartNumber: partNumber,
                CopySource: copySource,
                CopySourceRange: `bytes=${start}-${end}`,
                CopySourceIfMatch: source.etag,
              }),
              abortSignal,
            ),
          ),
        );
        const partEtag = out.CopyPartResult?.ETag;
        if (partEtag === undefined) throw new UnexpectedStoreError(`UploadPartCopy ${partNumber} of ${what} returned no ETag`);
        options.onProgress?.(end - start + 1);
        return partEtag;
      });
    },
    beforeComplete: () => conditional.prepare(destinationKey, conditions, 'CompleteMultipartUpload', signal),
  });
  return { etag, size: source.size };
}
