import { z } from 'zod';
import { formatIssues } from '@shardsync/config';
import { ProducerError } from '../errors.js';

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hexadecimal characters').transform((s) => s.toLowerCase());

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

export function parseAnnouncement(body: unknown): Announcement {
  const result = announcementSchema.safeParse(body);
  if (!result.success) {
    throw new ProducerError('SHARDSYNC_INVALID_REQUEST', `invalid event announcement: ${formatIssues(result.error.issues).join('; ')}`);
  }
  return result.data;
}
