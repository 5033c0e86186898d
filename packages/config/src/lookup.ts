import { ConfigError } from './errors.js';
import type { Datacenter, Dataset, S3Credentials, Topology } from './topology-schema.js';

/** The datacenter named `name`, or an error listing the known ones. */
export function getDatacenter(topology: Topology, name: string): Datacenter {
  const dc = topology.datacenters.find((d) => d.name === name);
  if (dc === undefined) {
    throw new ConfigError(
      'SHARDSYNC_CONFIG_INVALID',
      `datacenter "${name}" is not in the topology; known datacenters: ${topology.datacenters.map((d) => d.name).join(', ')}`,
    );
  }
  return dc;
}

/** The dataset named `name`, or undefined: callers turn that into their own 404 or dead letter. */
export function findDataset(topology: Topology, name: string): Dataset | undefined {
  return topology.datasets.find((d) => d.name === name);
}

/** The datasets a datacenter holds a copy of. */
export function datasetsOf(topology: Topology, datacenter: string): Dataset[] {
  return topology.datasets.filter((d) => d.datacenters.includes(datacenter));
}

export interface ResolvedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Placeholder used to sign requests for servers that do not check signatures (`type: none`).
 * Not a secret: the local s3proxy runs with authorization disabled.
 */
const UNCHECKED_CREDENTIALS: ResolvedCredentials = { accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' };

/** Reads the credentials a datacenter names from the environment; a missing variable is named in the error. */
export function resolveCredentials(credentials: S3Credentials, env: NodeJS.ProcessEnv = process.env): ResolvedCredentials {
  if (credentials.type === 'none') return UNCHECKED_CREDENTIALS;
  const read = (variable: string): string => requireSecret(env, variable, 'an S3 credential');
  const resolved: ResolvedCredentials = {
    accessKeyId: read(credentials.accessKeyIdEnv),
    secretAccessKey: read(credentials.secretAccessKeyEnv),
  };
  if (credentials.sessionTokenEnv !== undefined) resolved.sessionToken = read(credentials.sessionTokenEnv);
  return resolved;
}

/** The value of a secret's environment variable; a missing or empty one is named in the error. */
export function requireSecret(env: NodeJS.ProcessEnv, variable: string, what: string): string {
  const value = env[variable];
  if (value === undefined || value === '') {
    throw new ConfigError('SHARDSYNC_CONFIG_MISSING_SECRET', `environment variable ${variable} is not set; the topology names it as ${what}`);
  }
  return value;
}

/** The Kafka consumer group of a datacenter's consumers; every instance of one datacenter joins it. */
export function consumerGroupOf(datacenter: string): string {
  return `shardsync.dc.${datacenter}`;
}

/** A topic shardsync creates when it is missing, as `EventLogAdmin.ensureTopics` takes it. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly retentionMs?: number | undefined;
}

/**
 * The topics of a topology, as every service and `shardsync init` creates them: the updates
 * topic with its partitions and retention, the dead-letter topic with one partition and the
 * broker's retention (letters wait for an operator).
 */
export function topicsOf(topology: Topology): TopicSpec[] {
  const { kafka } = topology;
  return [
    { topic: kafka.topics.updates, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor, retentionMs: kafka.retentionMs },
    { topic: kafka.topics.deadLetters, partitions: 1, replicationFactor: kafka.replicationFactor },
  ];
}

/**
 * Refuses a tombstone grace period (or staged-body retention) that does not outlive the updates
 * topic's retention: an event still in the topic could then meet no tombstone (a late put
 * resurrects its key) or no body. `variable` names the setting for the message.
 */
export function assertOutlivesTopic(topology: Topology, variable: string, ms: number): void {
  const retention = topology.kafka.retentionMs;
  if (ms > retention) return;
  throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `${variable} (${ms} ms) must be longer than the updates topic's retention, kafka.retentionMs (${retention} ms)`, [
    `an event still in the topic after ${variable} could meet a tombstone already expired or a staged body already deleted; raise ${variable} or lower kafka.retentionMs (and the topic's retention.ms)`,
  ]);
}

/** A Redis URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    // ioredis takes query parameters as options too: `?password=...` (or sentinelPassword) is as secret.
    for (const key of [...u.searchParams.keys()]) if (/password/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(unparsable redis URL)';
  }
}
