import type { Readable } from 'node:stream';
import type { TokenGrant } from '../auth/tokens.js';

/** The 202 answer: the update is durable in Kafka and will reach every datacenter of its dataset. */
export interface Accepted {
  eventId: string;
  dataset: string;
  key: string;
  /** Sortable version string; the highest one wins in every datacenter. */
  version: string;
  sha256: string | null;
  size: number;
}

interface Common {
  grant: TokenGrant;
  dataset: string;
  key: string;
  idempotencyKey?: string | undefined;
}

export interface PutRequest extends Common {
  /** The body as it streams in, or already whole (an item of a batch). */
  body: Readable | Buffer;
  /** The Content-Length header when the client sent one. */
  contentLength?: number | undefined;
  /** The `x-shardsync-sha256` header: the digest the client expects. */
  declaredSha256?: string | undefined;
  metadata: Record<string, string>;
  /** Fires when the producer cuts requests short as it shuts down: a body still streaming in then fails with 503. */
  closing?: AbortSignal | undefined;
}

export type DeleteRequest = Common;

/** POST /v1/events: a service wrote the object itself and announces it (change-data-capture). */
export interface AnnounceRequest {
  grant: TokenGrant;
  idempotencyKey?: string | undefined;
  /** The parsed JSON body, validated by the ingest. */
  body: unknown;
}

/** What the HTTP layer needs from the ingest logic. */
export interface Ingest {
  put(request: PutRequest): Promise<Accepted>;
  delete(request: DeleteRequest): Promise<Accepted>;
  announce(request: AnnounceRequest): Promise<Accepted>;
}
