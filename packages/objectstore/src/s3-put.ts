import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { withAbortSignal } from './client.js';
import { missingAsPreconditionFailure, type ConditionalWrites } from './conditional.js';
import { EtagRuleViolationError } from './errors.js';
import { normalizeEtag, sameEtag, singlePartEtag } from './etag.js';
import { runMultipart } from './multipart.js';
import { sharedPartBuffers } from './part-buffers.js';
import { PartReader } from './part-reader.js';
import { assertSha256, preparePut, putFailure, type PreparedPut } from './put-common.js';
import { isAborted, type S3Context } from './s3-context.js';
import type { PutOptions, PutResult } from './types.js';

/**
 * put() against S3: buffers up to `singlePutMaxBytes` and sends one PutObject (after the SHA-256
 * check, so a bad body is never sent), or streams a multipart upload with fixed-size parts and
 * bounded concurrency, aborted on any failure. Every request carries Content-MD5, which the
 * server verifies, and every returned ETag is checked against the MD5 rule.
 */
export async function s3Put(
  ctx: S3Context,
  conditional: ConditionalWrites,
  key: string,
  body: Readable | Uint8Array,
  options: PutOptions = {},
): Promise<PutResult> {
  ctx.assertOpen('PutObject');
  const prepared = preparePut(key, options, ctx.options);
  const { signal } = options;
  const { singlePutMaxBytes, partSizeBytes, maxObjectBytes } = ctx.options;
  // Parts come from the shared pool; each is released once its request succeeded (see PartBufferPool).
  const reader = new PartReader(body, partSizeBytes, { size: prepared.size, maxBytes: maxObjectBytes }, sharedPartBuffers);
  const onAbort = (): void => reader.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (isAborted(signal)) throw ctx.aborted('PutObject', key, signal);
    const buffered: Buffer[] = [];
    let bufferedBytes = 0;
    // A body announced as large goes straight to multipart: no need to buffer the threshold first.
    if (prepared.size === undefined || prepared.size <= singlePutMaxBytes) {
      while (bufferedBytes <= singlePutMaxBytes) {
        const part = await reader.next();
        if (part === undefined) break;
        buffered.push(part);
        bufferedBytes += part.byteLength;
      }
      if (isAborted(signal)) throw ctx.aborted('PutObject', key, signal);
      if (reader.done && bufferedBytes <= singlePutMaxBytes) {
        return await putSingle(ctx, conditional, key, buffered, reader, prepared, signal);
      }
    }
    return await putMultipart(ctx, conditional, key, buffered, reader, prepared, signal);
  } catch (err) {
    reader.destroy();
    if (isAborted(signal)) throw ctx.aborted('PutObject', key, signal);
    throw putFailure(err, key);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function putSingle(
  ctx: S3Context,
  conditional: ConditionalWrites,
  key: string,
  buffered: Buffer[],
  reader: PartReader,
  prepared: PreparedPut,
  signal: AbortSignal | undefined,
): Promise<PutResult> {
  const [only] = buffered;
  const body = buffered.length === 1 && only !== undefined ? only : Buffer.concat(buffered);
  const sha256 = reader.sha256;
  assertSha256(key, prepared.expectedSha256, sha256, body.byteLength);
  const headers = await conditional.prepare(key, prepared.conditions, 'PutObject', signal);
  const send = (contentMd5: Buffer) =>
    ctx.call('PutObject', key, signal, (abortSignal) =>
      ctx.client.send(
        withAbortSignal(
          new PutObjectCommand({
            Bucket: ctx.bucket,
            Key: key,
            Body: body,
            ContentLength: body.byteLength,
            ContentMD5: contentMd5.toString('base64'),
            Metadata: prepared.metadata,
            ContentType: prepared.contentType,
            ...headers,
          }),
          abortSignal,
        ),
      ),
    );
  // A body known from its source's single-part ETag is not hashed again: the server checks Content-MD5.
  let md5 = prepared.knownMd5 ?? md5Of(body);
  let out: Awaited<ReturnType<typeof send>>;
  try {
    out = await send(md5);
  } catch (err) {
    if (prepared.knownMd5 === undefined || !isDigestRejection(err)) throw missingAsPreconditionFailure(err, headers);
    // The source's ETag does not describe these bytes (their SHA-256 was verified above, so its
    // recorded MD5 is what is damaged): hash them here and send again.
    md5 = md5Of(body);
    out = await send(md5).catch((again: unknown) => {
      throw missingAsPreconditionFailure(again, headers);
    });
  }
  const etag = checkEtag(ctx, key, 'PutObject', out.ETag, md5);
  const size = body.byteLength;
  for (const part of buffered) sharedPartBuffers.release(part);
  return { etag, size, sha256 };
}

const md5Of = (body: Buffer): Buffer => createHash('md5').update(body).digest();

/** The server refused the body because it does not match its Content-MD5. */
function isDigestRejection(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  const name = typeof cause === 'object' && cause !== null ? (cause as { name?: unknown }).name : undefined;
  return name === 'BadDigest' || name === 'InvalidDigest';
}

async function putMultipart(
  ctx: S3Context,
  conditional: ConditionalWrites,
  key: string,
  buffered: Buffer[],
  reader: PartReader,
  prepared: PreparedPut,
  signal: AbortSignal | undefined,
): Promise<PutResult> {
  await conditional.check(key, prepared.conditions, 'PutObject', signal);
  let hooked = false;
  const etag = await runMultipart(ctx, {
    key,
    metadata: prepared.metadata,
    contentType: prepared.contentType,
    signal,
    nextPart: async (stop) => {
      if (!hooked) {
        hooked = true;
        stop.addEventListener('abort', () => reader.destroy(), { once: true });
      }
      const part = buffered.shift() ?? (await reader.next());
      if (part === undefined) return undefined;
      return (uploadId, partNumber, abortSignal) => uploadPart(ctx, key, uploadId, partNumber, part, abortSignal);
    },
    beforeComplete: async () => {
      assertSha256(key, prepared.expectedSha256, reader.sha256, reader.bytesRead);
      return conditional.prepare(key, prepared.conditions, 'CompleteMultipartUpload', signal);
    },
  });
  return { etag, size: reader.bytesRead, sha256: reader.sha256 };
}

async function uploadPart(ctx: S3Context, key: string, uploadId: string, partNumber: number, part: Buffer, signal: AbortSignal | undefined): Promise<string> {
  const md5 = createHash('md5').update(part).digest();
  const out = await ctx.call('UploadPart', key, signal, (abortSignal) =>
    ctx.client.send(
      withAbortSignal(
        new UploadPartCommand({
          Bucket: ctx.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: part,
          ContentLength: part.byteLength,
          ContentMD5: md5.toString('base64'),
        }),
        abortSignal,
      ),
    ),
  );
  const etag = checkEtag(ctx, key, `UploadPart ${partNumber}`, out.ETag, md5);
  sharedPartBuffers.release(part);
  return etag;
}

function checkEtag(ctx: S3Context, key: string, operation: string, etag: string | undefined, md5: Buffer): string {
  const actual = normalizeEtag(etag ?? '');
  const expected = singlePartEtag(md5);
  if (ctx.options.verifyEtags && !sameEtag(actual, expected)) {
    throw new EtagRuleViolationError(
      `${operation} of key ${JSON.stringify(key)} in bucket "${ctx.bucket}" (datacenter ${ctx.datacenter}) returned ETag ${actual}, not the body's MD5 ${expected}; ` +
        'this server does not compute ETags as MD5 (e.g. SSE-KMS), so listings cannot be compared by ETag (set verifyEtags: false to accept it)',
    );
  }
  return actual;
}
