export {
  ClockDriftError,
  EventsError,
  IncompatibleSchemaError,
  InvalidEventError,
  InvalidKeyError,
  InvalidVersionError,
  UndecodableEventError,
  UnknownSchemaError,
} from './errors.js';
export type { EventsErrorCode, KeyProblem } from './errors.js';

export type {
  Compression,
  DeleteShardUpdate,
  InlinePayload,
  Operation,
  Payload,
  PutShardUpdate,
  ShardUpdate,
  StagedPayload,
} from './types.js';

export {
  assertVersion,
  compareVersions,
  formatVersion,
  MAX_LOGICAL,
  parseVersion,
  versionInMetadata,
  PRODUCER_ID_PATTERN,
  VERSION_METADATA_KEY,
  versionProblems,
  versionsEqual,
} from './version.js';
export type { Version } from './version.js';

export { DEFAULT_MAX_CLOCK_DRIFT_MS, HybridLogicalClock, systemClock } from './hlc.js';
export type { Clock, HybridLogicalClockOptions, PhysicalTimeLease } from './hlc.js';

export { decideApply, kindOf, pickWinner, stateOf } from './decide.js';
export type { ApplyDecision, UpdateKind, VersionedState } from './decide.js';

export {
  firstControlCharacter,
  assertDatasetName,
  assertObjectKey,
  DATASET_NAME_PATTERN,
  MAX_KEY_BYTES,
  quotedForMessage,
  RESERVED_PREFIX,
  validateDatasetName,
  validateObjectKey,
} from './keys.js';
export type { KeyValidation } from './keys.js';

export { assertValidShardUpdate, MAX_USER_METADATA_BYTES, shardUpdateProblems, userMetadataProblems } from './validate.js';
export { createInlinePayload, inflateInlinePayload, MAX_INLINE_PAYLOAD_BYTES } from './payload.js';

export {
  compileSchema,
  readCurrentSchema,
  readHistoricSchemas,
  schemaFingerprint,
  SHARD_UPDATE_HISTORY_URL,
  SHARD_UPDATE_SCHEMA_URL,
} from './schema.js';
export type { SchemaSource } from './schema.js';
export { bundledSchemaRegistry, SchemaRegistry } from './registry.js';
export type { WriterSchema } from './registry.js';

export {
  CONTENT_TYPE_HEADER,
  decodeShardUpdate,
  encodeShardUpdate,
  EVENT_ID_HEADER,
  SCHEMA_HEADER,
  SHARD_UPDATE_CONTENT_TYPE,
} from './codec.js';
export type { EncodedShardUpdate, EventHeaders } from './codec.js';

export {
  clockLeaseKeyOf,
  datasetPrefix,
  META,
  objectKeyOf,
  PRODUCERS_PREFIX,
  STAGING_PREFIX,
  TOMBSTONE_PREFIX,
  tombstoneBody,
  tombstoneKeyOf,
  tombstonePrefix,
  maxKeyBytesIn,
} from './layout.js';
