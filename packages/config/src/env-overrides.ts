/**
 * Environment variables that override single fields of the topology file, so one file can
 * serve several deployments (and the tests can point at their own topics). Applied to the raw
 * document before validation, so an invalid override is reported like an invalid field.
 */
export interface OverrideResult {
  readonly document: unknown;
  /** Formatted field path -> the variable that set it, for error messages. */
  readonly sources: ReadonlyMap<string, string>;
  /**
   * Variables shaped like a datacenter's S3 override (`SHARDSYNC_DC_<X>_S3_<FIELD>`) that override
   * nothing in this topology, each with what is wrong: a misspelt datacenter or field would
   * otherwise leave the file's value in force without a word.
   */
  readonly strays: readonly string[];
}

const DC_OVERRIDE_FIELDS = ['endpoint', 'region', 'bucket'] as const;
/** What a datacenter override looks like, whether or not it names one of the topology's. */
const DC_OVERRIDE_SHAPE = /^SHARDSYNC_DC_(.+)_S3_([A-Z0-9_]+)$/;

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
  if (root === undefined) return { document: raw, sources, strays: [] };
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
  const segments: string[] = [];
  const credentialVariables = new Set<string>();
  datacenters.forEach((entry, i) => {
    const dc = asRecord(entry);
    if (dc === undefined || typeof dc['name'] !== 'string') return;
    const segment = envSegment(dc['name']);
    segments.push(segment);
    for (const field of DC_OVERRIDE_FIELDS) {
      set(`SHARDSYNC_DC_${segment}_S3_${field.toUpperCase()}`, () => child(dc, 's3'), field, `datacenters[${i}].s3.${field}`);
    }
    // A credential variable may be named like an override (SHARDSYNC_DC_DC_A_S3_SECRET): it is not a stray.
    const credentials = asRecord(asRecord(dc['s3'])?.['credentials']) ?? {};
    for (const [field, value] of Object.entries(credentials)) if (field.endsWith('Env') && typeof value === 'string') credentialVariables.add(value);
  });
  return { document: doc, sources, strays: strayOverrides(env, segments, credentialVariables) };
}

/** See {@link OverrideResult.strays}. Variables set to '' are ignored, as overrides set to '' are. */
function strayOverrides(env: NodeJS.ProcessEnv, segments: readonly string[], credentialVariables: ReadonlySet<string>): string[] {
  const fields = DC_OVERRIDE_FIELDS.map((f) => f.toUpperCase());
  const strays: string[] = [];
  for (const [variable, value] of Object.entries(env)) {
    const shape = DC_OVERRIDE_SHAPE.exec(variable);
    if (shape === null || value === undefined || value === '' || credentialVariables.has(variable)) continue;
    const [, segment = '', field = ''] = shape;
    if (!segments.includes(segment)) {
      strays.push(`${variable} names no datacenter of this topology: its datacenters' overrides begin ${segments.map((s) => `SHARDSYNC_DC_${s}_S3_`).join(', ')}`);
    } else if (!fields.includes(field)) {
      strays.push(`${variable} overrides no field: a datacenter's overrides end in _S3_${fields.join(', _S3_')}`);
    }
  }
  return strays.sort();
}
