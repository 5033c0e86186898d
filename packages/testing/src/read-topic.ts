import type { IHeaders } from 'kafkajs';
import { testKafka } from './kafka.js';
import { uniqueName } from './names.js';
import { waitFor } from './wait.js';

export interface TopicMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first.toString();
  }
  return out;
}

/**
 * Everything a topic holds right now: reads every partition from the beginning up to the
 * high watermark it had when called. Tests assert on the topic itself, not only on responses.
 */
export async function readTopic(topic: string, timeoutMs = 30_000): Promise<TopicMessage[]> {
  const kafka = testKafka('shardsync-test-reader');
  const admin = kafka.admin();
  await admin.connect();
  // Right after a broker restart, leadership may still be moving: ask until it answers.
  const offsets = await waitFor(() => admin.fetchTopicOffsets(topic), { timeoutMs, intervalMs: 500, what: `the offsets of ${topic}` }).finally(() => admin.disconnect());
  const remaining = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  const messages: TopicMessage[] = [];
  if (remaining.size === 0) return messages;
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} took longer than ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const high = remaining.get(partition);
            if (high === undefined || BigInt(message.offset) >= high) return;
            messages.push({ partition, offset: message.offset, key: message.key, value: message.value, headers: headersOf(message.headers) });
            if (BigInt(message.offset) + 1n >= high) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
