import type { Readable } from 'node:stream';

/**
 * The producer's 202 answer: the update is durable in Kafka (acks=all) and will reach every
 * datacenter of its dataset. Same shape as the producer's `Accepted`.
 */
export interface Accepted {
  eventId: string;
  dataset: string;
  key: string;
  /** Sortable version string; the highest one wins in every datacenter. */
  version: string;
  /** Hex SHA-256 of the body; `null` for deletes. */
  sha256: string | null;
  /** Body size in bytes; 0 for deletes. */
  size: number;
}

/** Where a change-data-capture announcement's object already lives. */
export interface AnnouncementSource {
  datacenter: string;
  bucket: string;
  key: string;
}

/**
 * The body of `POST /v1/events` (change-data-capture): the calling service wrote the object to
 * its store itself and announces it; the producer checks the source exists with that size.
 */
export type Announcement =
  | {
      operation: 'put';
      dataset: string;
      key: string;
      source: AnnouncementSource;
      size: number;
      /** 64 hexadecimal characters. */
      sha256: string;
      metadata?: Record<string, string> | undefined;
    }
  | {
      operation: 'delete';
      dataset: string;
      key: string;
    };

/**
 * What `put` uploads. Bytes and strings (UTF-8) can be re-sent on a retry. A `Readable` can be
 * sent once only: a failure after its first byte was read is final. Pass a factory returning a
 * fresh stream (e.g. `() => createReadStream(path)`) to make streamed uploads retriable too.
 */
export type PutBody = Buffer | Uint8Array | string | Readable | (() => Readable);

/** Options every call accepts. */
export interface CallOptions {
  /**
   * Makes the call run at most once on the producer (1 to 255 characters). Default: a random
   * UUID generated once per call and reused by each of its retries. Pass your own to retry a
   * call across process restarts; a failed call's key is on {@link ShardsyncClientError.idempotencyKey}.
   */
  idempotencyKey?: string | undefined;
  /** Cancels the call, including pending retries. */
  signal?: AbortSignal | undefined;
}

export interface PutOptions extends CallOptions {
  /** Hex SHA-256 the body must have; the producer refuses a mismatch with 400 and emits nothing. */
  sha256?: string | undefined;
  /**
   * User metadata stored with the object in every datacenter, sent as `x-shardsync-meta-<name>`
   * headers. Names: lower-case letters, digits and `-` (starting with a letter or digit, at most
   * 128, not `shardsync-*`); values: printable ASCII; names and values, the content type's
   * included, at most 1536 bytes in all. What breaks these rules is refused before anything is sent.
   */
  metadata?: Record<string, string> | undefined;
  /** Content-Type recorded with the object (as metadata `content-type`). */
  contentType?: string | undefined;
  /**
   * Byte count of a stream body, sent as Content-Length so the producer can refuse an oversized
   * body before reading it. Optional; ignored for bytes and strings, whose length is known. It
   * must be the stream's exact length: a stream that turns out longer or shorter fails the call
   * with SHARDSYNC_CLIENT_INVALID_ARGUMENT (not retried) and the producer accepts nothing of it.
   */
  contentLength?: number | undefined;
}
