import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { resolveS3Credentials, type S3Credentials } from './credentials.js';

// Re-exported for modules that import the credentials shape from here (store-pool.ts).
export type { S3Credentials } from './credentials.js';
import { ObjectStoreConfigError } from './errors.js';
import type { CompiledObjectStoreOptions } from './options.js';

/** One datacenter's S3 endpoint and bucket; the topology's `datacenters[i].s3` plus the datacenter name. */
export interface S3StoreConfig {
  /** Datacenter name, used in errors and metrics. */
  readonly datacenter: string;
  /** Base URL of the S3 API, e.g. `http://127.0.0.1:19001`. */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  /** Path-style addressing (`endpoint/bucket/key`). Default true: every S3-compatible server on one host needs it. */
  readonly forcePathStyle?: boolean | undefined;
  /** Default `{ type: 'none' }`. */
  readonly credentials?: S3Credentials | undefined;
}

/** An SDK client and the keep-alive agent it sends through (exposed for socket accounting). */
export interface S3Connection {
  readonly client: S3Client;
  readonly agent: HttpAgent;
}

/**
 * Builds the SDK client for one datacenter.
 *
 * - Our own keep-alive agent, passed as an instance: the handler then reuses it for every request
 *   (with agent options only, it opens a throw-away non-keep-alive agent for each
 *   `Expect: 100-continue` request, i.e. every large PUT), and we can count its sockets.
 * - Explicit connection, request and socket-idle timeouts: the SDK default is none, and a silent
 *   peer would hang a consumer forever. `throwOnRequestTimeout`, or a breach only logs a warning.
 * - Few attempts: callers retry with backoff and know which operations are safe to repeat.
 * - Checksums only WHEN_REQUIRED: since 2025 the SDK's default sends CRC32 checksums
 *   (`x-amz-checksum-crc32`, `x-amz-sdk-checksum-algorithm`, aws-chunked trailers) on every upload
 *   and `x-amz-checksum-mode` on GETs. s3proxy 2.6.0 answers those with 501 NotImplemented, for
 *   PutObject, UploadPart and even GetObject. Integrity comes from Content-MD5 (which s3proxy does
 *   verify) and our own SHA-256.
 */
export function createS3Client(config: S3StoreConfig, options: CompiledObjectStoreOptions): S3Connection {
  let url: URL;
  try {
    url = new URL(config.endpoint);
  } catch (cause) {
    throw new ObjectStoreConfigError(`datacenter ${config.datacenter}: endpoint ${JSON.stringify(config.endpoint)} is not a URL; expected e.g. "http://127.0.0.1:19001" (${String(cause)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ObjectStoreConfigError(`datacenter ${config.datacenter}: endpoint ${config.endpoint} must be http or https`);
  }
  if (config.region === '') throw new ObjectStoreConfigError(`datacenter ${config.datacenter}: region must not be empty`);
  if (config.bucket === '') throw new ObjectStoreConfigError(`datacenter ${config.datacenter}: bucket must not be empty`);
  const credentials = resolveS3Credentials(config.credentials ?? { type: 'none' });

  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, scheduling: 'lifo' as const };
  const agent = url.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const requestHandler = new NodeHttpHandler({
    ...(url.protocol === 'https:' ? { httpsAgent: agent } : { httpAgent: agent }),
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    throwOnRequestTimeout: true,
    socketTimeout: options.socketIdleTimeoutMs,
  });
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle ?? true,
    credentials,
    requestHandler,
    maxAttempts: options.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // With our own agent the handler does not wait for "100 Continue" anyway; the header would only
    // make a server hold the body back.
    expectContinueHeader: false,
    // Resolve each command class's middleware stack once instead of on every send (about 0.4 ms of
    // CPU per request otherwise: a consumer applying small objects spent more on it than on
    // anything else). The cache only serves sends without options, so the abort signal travels in
    // the input instead (withAbortSignal). A cached stack shares one handler context (resolved
    // endpoint, auth scheme) between concurrent sends of a command class: safe because a client
    // here serves one bucket on one endpoint; a client shared by several buckets would need it off.
    cacheMiddleware: true,
  });
  sendWithAbortSignal(client, requestHandler);
  if (options.unsignedPayload) skipPayloadHash(client);
  return { client, agent };
}

/** Where a call's abort signal travels: a symbol-keyed member of its input, which no serializer reads. */
const ABORT_SIGNAL = Symbol('shardsync.abortSignal');

/**
 * Makes `command` abortable by `signal`; send it with `client.send(command)` and no options (a
 * client built by {@link createS3Client} then uses its cached middleware and still aborts).
 */
export function withAbortSignal<C extends { readonly input: object }>(command: C, signal: AbortSignal | undefined): C {
  if (signal !== undefined) (command.input as { [ABORT_SIGNAL]?: AbortSignal })[ABORT_SIGNAL] = signal;
  return command;
}

/**
 * The innermost middleware: sends the signed request itself, with the abort signal found in the
 * input, instead of through the terminal handler, whose options a cached stack fixed at the
 * first send. Requests without a signal go the usual way.
 */
function sendWithAbortSignal(client: S3Client, requestHandler: NodeHttpHandler): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const abortSignal = (args.input as { [ABORT_SIGNAL]?: AbortSignal })[ABORT_SIGNAL];
      if (abortSignal === undefined) return next(args);
      return requestHandler.handle(args.request as Parameters<NodeHttpHandler['handle']>[0], { abortSignal });
    },
    { step: 'deserialize', priority: 'low', name: 'shardsyncAbortSignal' },
  );
}

/**
 * Signs request bodies as `UNSIGNED-PAYLOAD` instead of hashing them for SigV4 (S3 accepts it).
 * Every body shardsync writes is already hashed twice on its way: SHA-256 by us (verified before
 * anything becomes visible) and MD5 as Content-MD5 (verified by the server); a third pass only
 * for the signature costs a full CPU pass over every byte. The signer uses a preset
 * `x-amz-content-sha256` header as it is, so setting it before signing skips the hash.
 */
function skipPayloadHash(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method?: unknown; headers?: Record<string, string> };
      if ((request.method === 'PUT' || request.method === 'POST') && request.headers !== undefined) {
        request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'shardsyncUnsignedPayload' },
  );
}
