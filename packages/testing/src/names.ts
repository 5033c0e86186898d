import { randomBytes } from 'node:crypto';

/**
 * A name no other test (or earlier run) uses, valid as a Kafka topic, consumer group, BullMQ
 * queue and S3 bucket name (lower-case letters, digits and dashes, at most 63 characters).
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40);
  return `${clean}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
