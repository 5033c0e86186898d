export { stackUp, stackDown, stackStatus, stackWipe, startServer, stopServer, type StackStatus, type DatacenterStatus } from './stack.js';
export { compileStackOptions, type StackOptions, type CompiledStackOptions, type S3ProxyProvider } from './options.js';
export type { ServerStatus, ServerState, ServerKind, StartOutcome, StopOutcome } from './servers.js';
export { InfraError, isInfraError, type InfraErrorCode } from './errors.js';
export { DEFAULT_KAFKA_VERSION, DEFAULT_S3PROXY_VERSION } from './versions.js';
export { formatStatusTable } from './status-table.js';
export { kafkaServer, probeKafka } from './kafka.js';
export { createClientCertificate, createSelfSignedKeystore, type SecuredListeners } from './kafka-security.js';
