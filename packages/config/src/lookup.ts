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
  const read = (variable: string): string => {
    const value = env[variable];
    if (value === undefined || value === '') {
      throw new ConfigError('SHARDSYNC_CONFIG_MISSING_SECRET', `environment variable ${variable} is not set; the topology names it as an S3 credential`);
    }
    return value;
  };
  const resolved: ResolvedCredentials = {
    accessKeyId: read(credentials.accessKeyIdEnv),
    secretAccessKey: read(credentials.secretAccessKeyEnv),
  };
  if (credentials.sessionTokenEnv !== undefined) resolved.sessionToken = read(credentials.sessionTokenEnv);
  return resolved;
}

/** The Kafka consumer group of a datacenter's consumers; every instance of one datacenter joins it. */
export function consumerGroupOf(datacenter: string): string {
  return `shardsync.dc.${datacenter}`;
}
