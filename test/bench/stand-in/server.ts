/**
 * The ingest scenario's stand-in producer: an HTTP server that does nothing but hand the records
 * of each request to a kafkajs `sendBatch` (one per event-loop turn, acks=all, idempotent, as the
 * real producer's event log) and answer. No authentication, idempotency, hashing, Avro or
 * metrics: it measures what an HTTP hop in front of kafkajs costs on this machine, so the real
 * producer's figure can be read against it. Run as its own process (like the real producer):
 *
 *   node --import tsx test/bench/stand-in/server.ts <brokers,comma-separated> <topic>
 *
 * It prints `listening <port>` once it accepts requests. Request bodies: see `records.ts`.
 */
import { createServer, type ServerResponse } from 'node:http';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { decodeRecords } from './records.js';

interface Waiting {
  readonly messages: Array<{ key: Buffer; value: Buffer }>;
  readonly res: ServerResponse;
}

async function main(brokers: string[], topic: string): Promise<void> {
  const producer = new Kafka({ brokers, clientId: 'shardsync-bench-stand-in', logLevel: logLevel.NOTHING }).producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  let waiting: Waiting[] = [];
  let sending = false;
  // Like the real event log: what arrives while a send is under way goes in the next one.
  const flush = (): void => {
    if (sending || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    sending = true;
    const answer = (status: number) => {
      for (const w of batch) w.res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: status === 200 ? w.messages.length : 0 }));
    };
    producer
      .sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [{ topic, messages: batch.flatMap((w) => w.messages) }] })
      .then(() => answer(200), () => answer(503))
      .finally(() => {
        sending = false;
        setImmediate(flush);
      });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        waiting.push({ messages: decodeRecords(Buffer.concat(chunks)), res });
      } catch (err) {
        res.writeHead(400).end(String(err));
        return;
      }
      setImmediate(flush);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  });
  const stop = (): void => {
    server.close();
    void producer.disconnect().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const [brokers, topic] = process.argv.slice(2);
if (brokers === undefined || topic === undefined) {
  process.stderr.write('usage: stand-in/server.ts <brokers,comma-separated> <topic>\n');
  process.exit(2);
}
main(brokers.split(','), topic).catch((err: unknown) => {
  process.stderr.write(`stand-in producer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
