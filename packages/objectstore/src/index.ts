export type {
  AbortUploadOptions,
  ByteRange,
  CopyOptions,
  CopyResult,
  DeleteOptions,
  GetOptions,
  GetResult,
  HeadOptions,
  ListEntry,
  ListOptions,
  ListUploadsOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  UploadEntry,
  WriteConditions,
} from './types.js';

export {
  AccessDeniedError,
  EtagRuleViolationError,
  InvalidArgumentError,
  InvalidRangeError,
  NoSuchBucketError,
  ObjectNotFoundError,
  ObjectStoreConfigError,
  ObjectStoreError,
  OperationAbortedError,
  PreconditionFailedError,
  RequestRejectedError,
  SizeMismatchError,
  SourceStreamError,
  StoreClosedError,
  StoreUnavailableError,
  UnexpectedStoreError,
  UnsupportedOperationError,
} from './errors.js';
export type { ObjectStoreErrorCode, ObjectStoreErrorOptions } from './errors.js';

export { classifyS3Error } from './classify.js';
export type { S3ErrorContext } from './classify.js';

export {
  compileObjectStoreOptions,
  isS3ProxyArtifact,
  MAX_PARTS,
  MAX_SINGLE_REQUEST_BYTES,
  MIN_PART_SIZE_BYTES,
} from './options.js';
export type { CompiledObjectStoreOptions, ConditionalWriteMode, ListingStrategy, ObjectStoreOptions } from './options.js';

export { comparableEtag, EtagHasher, etagOfBytes, expectedEtag, multipartEtag, normalizeEtag, objectLayout, sameEtag, singlePartEtag } from './etag.js';
export type { EtagRule, ObjectLayout } from './etag.js';

export { normalizeMetadata, SHA256_METADATA_KEY } from './validate.js';

export { resolveS3Credentials } from './credentials.js';
export type { ResolvedS3Credentials, S3Credentials } from './credentials.js';
export { createS3Client } from './client.js';
export type { S3Connection, S3StoreConfig } from './client.js';

export { CONDITIONAL_PROBE_PREFIX } from './conditional.js';
export type { ConditionalWriteSupport } from './conditional.js';
export { S3ObjectStore } from './s3-object-store.js';
export type { ConnectionStats } from './s3-object-store.js';

export { MemoryObjectStore } from './memory-object-store.js';
export type { MemoryFault, MemoryObjectStoreOptions, MemoryOperation } from './memory-object-store.js';

export { DEFAULT_MAX_OTHER_BUCKETS, StorePool, type StoreFactory, type StorePoolOptions } from './store-pool.js';
export { PooledStore } from './pooled-store.js';
export { DelegatingStore } from './delegating-store.js';
export type { DatacenterStoreConfig } from './store-pool.js';
