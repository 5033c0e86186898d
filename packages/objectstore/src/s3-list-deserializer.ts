import { ListObjectsV2Command, S3ServiceException, type ListObjectsV2CommandInput, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import type { DeserializeHandlerOptions, DeserializeMiddleware, ResponseMetadata } from '@smithy/types';
import { ListXmlError, parseListObjectsV2, parseS3Error, TruncatedListXmlError } from './list-xml.js';

/**
 * A ListObjectsV2Command whose response is parsed by {@link parseListObjectsV2} instead of the
 * SDK's generic deserializer (see list-xml.ts for why). Everything else (endpoint, signing,
 * retries, timeouts, abort) is the SDK's: only the stack's `deserializerMiddleware` entry is
 * replaced, for this one command. The output has the SDK's shape, limited to the fields the
 * store reads (Contents' Key, ETag, Size, LastModified; CommonPrefixes; IsTruncated;
 * NextContinuationToken; EncodingType).
 */
export function fastListObjectsV2Command(input: ListObjectsV2CommandInput): ListObjectsV2Command {
  return new FastListObjectsV2Command(input);
}

/**
 * A class of its own: the client caches resolved middleware per command class
 * (`cacheMiddleware`), so a plain ListObjectsV2Command sent on the same client keeps the SDK's
 * deserializer and its full output.
 */
class FastListObjectsV2Command extends ListObjectsV2Command {
  constructor(input: ListObjectsV2CommandInput) {
    super(input);
    this.middlewareStack.add(listDeserializer, REPLACE_SDK_DESERIALIZER);
  }
}

/** Same name, step and priority as the SDK's entry, so the command's stack overrides the client's. */
const REPLACE_SDK_DESERIALIZER: DeserializeHandlerOptions & { step: 'deserialize'; override: true } = {
  name: 'deserializerMiddleware',
  step: 'deserialize',
  tags: ['DESERIALIZER'],
  override: true,
};

interface RawResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

function isRawResponse(value: unknown): value is RawResponse {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r['statusCode'] === 'number' && typeof r['headers'] === 'object' && r['headers'] !== null;
}

async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return Buffer.concat(chunks).toString('utf8');
  }
  throw new ListXmlError(`unexpected response body type ${Object.prototype.toString.call(body)}`);
}

/**
 * An error the way the SDK would have thrown it: an S3ServiceException named by the S3 error
 * code (or the HTTP status when the body has none), with `$metadata` and the raw `$response`,
 * so the SDK's retry strategy and the store's classification treat it exactly as before.
 */
function serviceError(response: RawResponse, text: string, $metadata: ResponseMetadata): S3ServiceException {
  const { code, message } = parseS3Error(text);
  const status = response.statusCode;
  const name = code ?? (status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : status === 400 ? 'BadRequest' : `Http${status}`);
  const error = new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata, message: message ?? `ListObjectsV2 answered HTTP ${status}${code === undefined ? '' : ` ${code}`}` });
  Object.defineProperty(error, '$response', { value: response, enumerable: false });
  return error;
}

const listDeserializer: DeserializeMiddleware<ListObjectsV2CommandInput, ListObjectsV2CommandOutput> = (next) => async (args) => {
  const { response } = await next(args);
  if (!isRawResponse(response)) throw new ListXmlError('ListObjectsV2: the HTTP handler returned no HTTP response');
  const text = await bodyText(response.body);
  const $metadata: ResponseMetadata = {
    httpStatusCode: response.statusCode,
    requestId: response.headers['x-amz-request-id'],
    extendedRequestId: response.headers['x-amz-id-2'],
  };
  if (response.statusCode < 200 || response.statusCode >= 300) throw serviceError(response, text, $metadata);
  let page;
  try {
    page = parseListObjectsV2(text);
  } catch (cause) {
    if (!(cause instanceof ListXmlError)) throw cause;
    const message = `ListObjectsV2 answered HTTP ${response.statusCode} with a body that is not a listing page: ${cause.message}`;
    throw cause instanceof TruncatedListXmlError ? new TruncatedListXmlError(message, { cause }) : new ListXmlError(message, { cause });
  }
  const output: ListObjectsV2CommandOutput = {
    $metadata,
    Contents: page.contents.map((o) => ({ Key: o.key, ETag: o.etag, Size: o.size, LastModified: o.lastModified })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: p })),
    IsTruncated: page.isTruncated,
    NextContinuationToken: page.nextContinuationToken,
    EncodingType: page.encodingType === 'url' ? 'url' : undefined,
  };
  return { response, output };
};
