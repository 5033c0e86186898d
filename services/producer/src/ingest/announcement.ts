import { z } from 'zod';
import { formatIssues } from '@shardsync/config';
import { MAX_KEY_BYTES, RESERVED_PREFIX, userMetadataProblems } from '@shardsync/events';
import { ProducerError } from '../errors.js';

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hexadecimal characters').transform((s) => s.toLowerCase());

/**
 * S3's bucket naming rules: 3 to 63 characters of lower-case letters, digits, `.` and `-`,
 * starting and ending with a letter or digit, no two adjacent dots.
 */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The JSON body of POST /v1/events (change-data-capture: the service wrote the object itself). */
export const announcementSchema = z.discriminatedUnion('operation', [
  z.strictObject({
    dataset: z.string().min(1),
    key: z.string().min(1),
    operation: z.literal('put'),
    source: z.strictObject({ datacenter: z.string().min(1), bucket: z.string().min(1), key: z.string().min(1) }),
    size: z.number().int().min(0),
    sha256,
    metadata: z.record(z.string(), z.string()).default({}),
  }),
  z.strictObject({
    dataset: z.string().min(1),
    key: z.string().min(1),
    operation: z.literal('delete'),
  }),
]);

export type Announcement = z.output<typeof announcementSchema>;
type PutAnnouncement = Extract<Announcement, { operation: 'put' }>;

/**
 * What the schema cannot say about an announced put, checked before anything reaches a store or
 * Kafka: otherwise the store or the event encoder refuses it later and the client sees a 500.
 */
function putProblems(a: PutAnnouncement): string[] {
  const p = userMetadataProblems(a.metadata).map((m) => `metadata: ${m}`);
  const { bucket, key } = a.source;
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    p.push(`source.bucket ${JSON.stringify(bucket.slice(0, 80))} is not a valid S3 bucket name (3 to 63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit)`);
  }
  const keyBytes = Buffer.byteLength(key, 'utf8');
  if (keyBytes > MAX_KEY_BYTES) p.push(`source.key is ${keyBytes} UTF-8 bytes; S3 keys are at most ${MAX_KEY_BYTES}`);
  // Staged payloads and tombstones live there; a service announcing an object it wrote never needs them.
  if (key.startsWith(RESERVED_PREFIX)) p.push(`source.key ${JSON.stringify(key.slice(0, 80))} is under "${RESERVED_PREFIX}", which is reserved for shardsync's own objects`);
  // Stores and their HTTP stacks collapse these (s3proxy reads "x/../.shardsync/..." and
  // "./.shardsync/..." as ".shardsync/..."): such a key names another object than the checks on
  // its text saw, so the reserved prefix and dataset prefixes could be reached through it.
  else if (key.startsWith('/') || key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    p.push(`source.key ${JSON.stringify(key.slice(0, 80))} has a leading "/", an empty, "." or ".." segment, which stores collapse into another key`);
  }
  return p;
}

/** Whether the body's metadata has an own "__proto__" entry (JSON.parse makes one), which zod's record skips unseen. */
function hasProtoMetadata(body: unknown): boolean {
  const metadata = typeof body === 'object' && body !== null ? (body as { metadata?: unknown }).metadata : undefined;
  return typeof metadata === 'object' && metadata !== null && Object.hasOwn(metadata, '__proto__');
}

export function parseAnnouncement(body: unknown): Announcement {
  if (hasProtoMetadata(body)) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', 'invalid event announcement: metadata key "__proto__" is not allowed');
  const result = announcementSchema.safeParse(body);
  if (!result.success) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `invalid event announcement: ${formatIssues(result.error.issues).join('; ')}`);
  }
  const problems = result.data.operation === 'put' ? putProblems(result.data) : [];
  if (problems.length > 0) throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `invalid event announcement: ${problems.join('; ')}`);
  return result.data;
}
