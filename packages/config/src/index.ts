export { ConfigError, type ConfigErrorCode } from './errors.js';
export { topologySchema, type Topology, type Datacenter, type Dataset, type S3Credentials } from './topology-schema.js';
export { loadTopology, parseTopology, topologyPath, DEFAULT_TOPOLOGY_FILE, type LoadTopologyOptions } from './load.js';
export { applyEnvOverrides, envSegment, type OverrideResult } from './env-overrides.js';
export { kafkaConnectionOf, type KafkaConnection } from './kafka-connection.js';
export { getDatacenter, findDataset, datasetsOf, resolveCredentials, consumerGroupOf, topicsOf, assertOutlivesTopic, redactRedisUrl, type ResolvedCredentials, type TopicSpec } from './lookup.js';
export { parseEnv, MAX_TIMER_MS, MAX_TIMER_MESSAGE } from './env.js';
export { formatIssues, formatPath } from './format-issues.js';
