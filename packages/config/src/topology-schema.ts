import { z } from 'zod';
import { envSegment } from './env-overrides.js';

const nameRule = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const name = (what: string) =>
  z.string().regex(nameRule, `${what} names use lower-case letters, digits, ".", "_" and "-" (1-63 characters, starting with a letter or digit)`);

/** The port of a `host:port` the regex below accepted, or undefined for any other text. */
const portOf = (v: string): number | undefined => {
  const match = /:(\d{1,5})$/.exec(v);
  return match === null ? undefined : Number(match[1]);
};

const hostPort = z
  .string()
  .regex(/^[^\s:/]+:\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:19092"')
  // Five digits also match 0 and 65536-99999, which no client can connect to.
  .refine((v) => {
    const port = portOf(v);
    return port === undefined || (port >= 1 && port <= 65_535);
  }, { error: (issue) => `expected a port number 1-65535, got "${String(issue.input)}"` });

/** Kafka's own rule for topic names (kafka.common.internals.Topic); anything else fails only when a topic is created. */
const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'Kafka topic names are 1-249 letters, digits, ".", "_" and "-"');

const envVarName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as "SHARDSYNC_DC_A_ACCESS_KEY_ID"');

/**
 * Credentials are never written in the topology file, only named: `env` reads them from
 * environment variables at start; `none` is for servers that do not check signatures (the
 * local s3proxy emulation), where the SDK signs with a fixed placeholder.
 */
const credentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('env'),
    accessKeyIdEnv: envVarName,
    secretAccessKeyEnv: envVarName,
    sessionTokenEnv: envVarName.optional(),
  }),
]);

/**
 * TLS to the brokers (Kafka's `SSL`, or `SASL_SSL` with `sasl`). Files, not PEM text, so that
 * certificates rotate without editing the topology; read once at start. Broker certificates are
 * always verified: without `caFile`, against Node's built-in CAs.
 */
const kafkaTlsSchema = z
  .strictObject({
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { error: 'certFile and keyFile go together (a client certificate and its key, for mutual TLS)' });

/** SASL authentication (Kafka's `SASL_PLAINTEXT`, or `SASL_SSL` with `tls`); the secrets only named, like S3 credentials. */
const kafkaSaslSchema = z.strictObject({
  mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
  usernameEnv: envVarName,
  passwordEnv: envVarName,
});

const s3Schema = z.strictObject({
  /** Base URL of the S3 API, e.g. `http://127.0.0.1:19001`. */
  endpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "http://127.0.0.1:19001"' }),
  region: z.string().min(1),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'S3 bucket names are 3-63 lower-case letters, digits, "." and "-"'),
  /** Path-style addressing; every S3-compatible server on one host needs it. */
  forcePathStyle: z.boolean().default(true),
  credentials: credentialsSchema.default({ type: 'none' }),
  /**
   * How the reconciler lists this server: `flat` (one recursive listing; best on AWS S3 and most
   * servers) or `folders` (folder by folder, for servers whose recursive listing re-walks the
   * whole subtree for every page, like s3proxy's filesystem backend). Default `flat`.
   */
  listing: z.enum(['flat', 'folders']).default('flat'),
  /**
   * Keys this server lists although no client wrote them, to leave out of listings: `s3proxy`
   * for s3proxy's filesystem backends (temporary files `<key>-<uuid>` and multipart parts while
   * they are written; it also hides user keys ending in `-<uuid>`, so only for s3proxy), `none`
   * for every other server. Default `none`.
   */
  artifacts: z.enum(['none', 's3proxy']).default('none'),
});

const datacenterSchema = z.strictObject({
  name: name('datacenter'),
  s3: s3Schema,
});

const datasetSchema = z.strictObject({
  name: name('dataset'),
  /** The datacenters that hold a full copy of this dataset. */
  datacenters: z.array(name('datacenter')).min(1, 'a dataset must replicate to at least one datacenter'),
});

/**
 * An endpoint as the S3 client will reach it, so that spellings of one server compare equal
 * (`HTTP://Host:80/` and `http://host`): host case, default port and trailing slashes aside.
 */
function storeOrigin(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}

export const topologySchema = z
  .strictObject({
    kafka: z.strictObject({
      brokers: z.array(hostPort).min(1, 'at least one broker is needed'),
      clientId: z.string().min(1).default('shardsync'),
      topics: z
        .strictObject({
          updates: topicName.default('shardsync.updates'),
          deadLetters: topicName.default('shardsync.updates.dlq'),
        })
        .default({ updates: 'shardsync.updates', deadLetters: 'shardsync.updates.dlq' }),
      /** Partitions of the updates topic: the unit of consumer parallelism per datacenter. */
      partitions: z.number().int().min(1).max(10_000).default(12),
      replicationFactor: z.number().int().min(1).max(16).default(1),
      /**
       * `retention.ms` the updates topic is created with (an existing topic keeps its own). Must
       * stay below the consumers' tombstone grace and the staged bodies' retention, so no event in
       * the topic can outlive the tombstone or the body it needs. Default 3 days.
       */
      retentionMs: z.number().int().positive().default(3 * 24 * 3600 * 1000),
      tls: kafkaTlsSchema.optional(),
      sasl: kafkaSaslSchema.optional(),
    }),
    redis: z.strictObject({
      url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }),
    }),
    datacenters: z.array(datacenterSchema).min(1, 'at least one datacenter is needed'),
    datasets: z.array(datasetSchema).min(1, 'at least one dataset is needed'),
  })
  .superRefine((t, ctx) => {
    // The consumers read the updates topic and dead-letter into the other: one topic for both
    // would hand every dead letter back to them as an update.
    if (t.kafka.topics.deadLetters === t.kafka.topics.updates) {
      ctx.addIssue({ code: 'custom', path: ['kafka', 'topics', 'deadLetters'], message: `the dead-letter topic must differ from the updates topic "${t.kafka.topics.updates}"` });
    }
    const dcNames = t.datacenters.map((d) => d.name);
    const known = new Set<string>();
    const bySegment = new Map<string, string>();
    t.datacenters.forEach((dc, i) => {
      if (known.has(dc.name)) {
        ctx.addIssue({ code: 'custom', path: ['datacenters', i, 'name'], message: `datacenter "${dc.name}" is declared twice` });
      }
      known.add(dc.name);
      // Their SHARDSYNC_DC_<NAME>_S3_* overrides would be the same variables: one setting both.
      const segment = envSegment(dc.name);
      const other = bySegment.get(segment);
      if (other !== undefined && other !== dc.name) {
        ctx.addIssue({ code: 'custom', path: ['datacenters', i, 'name'], message: `datacenters "${other}" and "${dc.name}" would share the overrides SHARDSYNC_DC_${segment}_S3_*; rename one` });
      }
      bySegment.set(segment, dc.name);
    });
    const endpoints = new Map<string, string>();
    t.datacenters.forEach((dc, i) => {
      const where = `${storeOrigin(dc.s3.endpoint)} ${dc.s3.bucket}`;
      const other = endpoints.get(where);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['datacenters', i, 's3', 'bucket'],
          message: `datacenters "${other}" and "${dc.name}" share the same endpoint and bucket; each needs its own store`,
        });
      }
      endpoints.set(where, dc.name);
    });
    const datasets = new Set<string>();
    t.datasets.forEach((ds, i) => {
      if (datasets.has(ds.name)) {
        ctx.addIssue({ code: 'custom', path: ['datasets', i, 'name'], message: `dataset "${ds.name}" is declared twice` });
      }
      datasets.add(ds.name);
      ds.datacenters.forEach((dc, j) => {
        if (!known.has(dc)) {
          ctx.addIssue({
            code: 'custom',
            path: ['datasets', i, 'datacenters', j],
            message: `unknown datacenter "${dc}"; known datacenters: ${dcNames.join(', ')}`,
          });
        }
      });
      if (new Set(ds.datacenters).size !== ds.datacenters.length) {
        ctx.addIssue({ code: 'custom', path: ['datasets', i, 'datacenters'], message: 'a datacenter is listed twice' });
      }
    });
  });

/** The validated topology, defaults filled. */
export type Topology = z.output<typeof topologySchema>;
export type Datacenter = Topology['datacenters'][number];
export type Dataset = Topology['datasets'][number];
export type S3Credentials = Datacenter['s3']['credentials'];
