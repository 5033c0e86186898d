/**
 * Environment variables that override single fields of the topology file, so one file can
 * serve several deployments (and the tests can point at their own topics). Applied to the raw
 * document before validation, so an invalid override is reported like an invalid field.
 */
export interface OverrideResult {
  readonly document: unknown;
  /** Formatted field path -> the variable that set it, for error messages. */
  readonly sources: ReadonlyMap<string, string>;
}

/** `dc-a` -> `DC_A`, the form used inside variable names. */
export function envSegment(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

type Json = Record<string, unknown>;

function asRecord(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function child(parent: Json, key: string): Json {
  const existing = asRecord(parent[key]);
  if (existing !== undefined) return existing;
  const created: Json = {};
  parent[key] = created;
  return created;
}

function asNumberIfNumeric(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): OverrideResult {
  const sources = new Map<string, string>();
  const root = asRecord(raw);
  if (root === undefined) return { document: raw, sources };
  const doc = structuredClone(root);

  const set = (variable: string, target: () => Json, key: string, path: string, convert: (v: string) => unknown = (v) => v) => {
    const value = env[variable];
    if (value === undefined || value === '') return;
    target()[key] = convert(value);
    sources.set(path, variable);
  };

  set('SHARDSYNC_KAFKA_BROKERS', () => child(doc, 'kafka'), 'brokers', 'kafka.brokers', (v) => v.split(',').map((s) => s.trim()).filter(Boolean));
  set('SHARDSYNC_KAFKA_PARTITIONS', () => child(doc, 'kafka'), 'partitions', 'kafka.partitions', asNumberIfNumeric);
  set('SHARDSYNC_KAFKA_TOPIC_UPDATES', () => child(child(doc, 'kafka'), 'topics'), 'updates', 'kafka.topics.updates');
  set('SHARDSYNC_KAFKA_TOPIC_DEAD_LETTERS', () => child(child(doc, 'kafka'), 'topics'), 'deadLetters', 'kafka.topics.deadLetters');
  set('SHARDSYNC_REDIS_URL', () => child(doc, 'redis'), 'url', 'redis.url');

  const datacenters = Array.isArray(doc['datacenters']) ? (doc['datacenters'] as unknown[]) : [];
  datacenters.forEach((entry, i) => {
    const dc = asRecord(entry);
    if (dc === undefined || typeof dc['name'] !== 'string') return;
    const prefix = `SHARDSYNC_DC_${envSegment(dc['name'])}_S3_`;
    for (const field of ['endpoint', 'region', 'bucket'] as const) {
      set(`${prefix}${field.toUpperCase()}`, () => child(dc, 's3'), field, `datacenters[${i}].s3.${field}`);
    }
  });
  return { document: doc, sources };
}
