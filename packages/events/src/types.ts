import type { Version } from './version.js';

/** What an update does to its key. */
export type Operation = 'PUT' | 'DELETE';

/** How inline bytes are compressed. Node 20 has no zstd, so gzip and brotli from `node:zlib`. */
export type Compression = 'NONE' | 'GZIP' | 'BROTLI';

/** Small objects travel inside the event. */
export interface InlinePayload {
  readonly kind: 'inline';
  /** The object's bytes, compressed with `compression`. */
  readonly bytes: Buffer;
  readonly compression: Compression;
  /** Length after decompression; equals the update's `size`. */
  readonly uncompressedSize: number;
}

/** Large objects are staged in the origin datacenter's store and copied from there. */
export interface StagedPayload {
  readonly kind: 'staged';
  readonly datacenter: string;
  readonly bucket: string;
  /** Where the body is: a producer's staging key (`.shardsync/staging/events/<eventId>`), or the announced source object. */
  readonly key: string;
}

/** Where a PUT's bytes are. */
export type Payload = InlinePayload | StagedPayload;

interface ShardUpdateCommon {
  /** UUID; unique per event. */
  readonly eventId: string;
  readonly dataset: string;
  readonly key: string;
  readonly version: Version;
  /** Datacenter whose producer accepted the update. */
  readonly originDatacenter: string;
  /** Producer process that emitted the event (normally `version.producerId`). */
  readonly producerId: string;
  /** When the producer emitted the event, ms since the Unix epoch; informational (lag metrics). */
  readonly producedAtMs: number;
  /** User metadata to store on the object; `{}` if none. Keys lowercase, never `shardsync-*`. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A new or replaced object. */
export interface PutShardUpdate extends ShardUpdateCommon {
  readonly operation: 'PUT';
  readonly size: number;
  /** Lowercase hex SHA-256 of the object. */
  readonly sha256: string;
  readonly payload: Payload;
}

/** A deleted object; replicated as a tombstone carrying the version. */
export interface DeleteShardUpdate extends ShardUpdateCommon {
  readonly operation: 'DELETE';
  readonly size: 0;
  readonly sha256: null;
  readonly payload: null;
}

/** One change to one object, as carried on the `shardsync.updates` topic. */
export type ShardUpdate = PutShardUpdate | DeleteShardUpdate;
