import { randomBytes } from 'node:crypto';
import type { ProducerClient } from './producer-client.js';

/** How much to write, and for how long at most. */
export interface WorkloadOptions {
  /** Body bytes to write in all. */
  readonly totalBytes: number;
  /** Stop after this long even if fewer bytes were written. Default: no limit. */
  readonly durationMs?: number | undefined;
  /** What the datasets hold before the run (bucket key -> SHA-256): keys the run does not touch stay as they are. */
  readonly initial?: ReadonlyMap<string, string> | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Running totals, read by the progress display. */
export interface WorkloadStats {
  puts: number;
  deletes: number;
  overwrites: number;
  /** Body bytes the producer accepted. */
  bytes: number;
  /** Events emitted (one per accepted put or delete). */
  events: number;
  startedAtMs: number;
  finishedAtMs: number | undefined;
}

/** One emulated microservice: a name, the dataset it writes, its share of the bytes and its loop. */
interface Microservice {
  readonly name: string;
  readonly dataset: string;
  readonly share: number;
  readonly workers: number;
  /** One step of its work; returns false when it has nothing more to do. */
  step(budgetLeft: () => number): Promise<boolean>;
}

const KiB = 1024;
const MiB = 1024 * KiB;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const between = (lo: number, hi: number) => Math.floor(lo + Math.random() * (hi - lo));

/** A JSON record of about `size` bytes (feature rows, small configs). */
function jsonRecord(id: string, size: number): Uint8Array {
  const filler = randomBytes(Math.max(0, Math.floor((size - 80) * 0.75))).toString('base64');
  return Buffer.from(JSON.stringify({ id, updatedAt: new Date().toISOString(), features: filler }));
}

/**
 * Emulates the microservices of an AI platform writing through shardsync:
 *
 * - `trainer` (dataset `models`): checkpoints of several shards (a few MiB each here; 10 MiB to
 *   GiBs in production), an index, a `latest` pointer overwritten after each checkpoint, old
 *   checkpoints deleted (keep the last two), and now and then a shard saved again.
 * - `etl` (dataset `training-data`): corpus chunks of 100 KiB to 1.5 MiB (staged, not inline),
 *   sometimes rewritten, and compacted away (deleted).
 * - `feature-store` (dataset `training-data`): small JSON records (inline in the event) on a hot
 *   key set, so most writes are overwrites, with some deletes.
 *
 * Every key is written by one operation at a time and each operation waits for its 202, so the
 * final state is exactly the last acknowledged operation per key: `expected` holds it.
 */
export class Workload {
  readonly stats: WorkloadStats = { puts: 0, deletes: 0, overwrites: 0, bytes: 0, events: 0, startedAtMs: 0, finishedAtMs: undefined };
  /** Bucket key (`<dataset>/<key>`) -> SHA-256 of the body last written (or found at the start); deleted keys absent. */
  readonly expected: Map<string, string>;
  readonly #client: ProducerClient;
  readonly #options: WorkloadOptions;
  readonly #busy = new Set<string>();
  readonly #bytesBy = new Map<string, number>();

  constructor(client: ProducerClient, options: WorkloadOptions) {
    this.#client = client;
    this.#options = options;
    this.expected = new Map(options.initial ?? []);
  }

  async run(): Promise<void> {
    this.stats.startedAtMs = Date.now();
    const deadline = this.#options.durationMs === undefined ? Infinity : this.stats.startedAtMs + this.#options.durationMs;
    const services = this.#services();
    try {
      await Promise.all(
        services.flatMap((svc) =>
          Array.from({ length: svc.workers }, async () => {
            const budget = this.#options.totalBytes * svc.share;
            const left = () => budget - (this.#bytesBy.get(svc.name) ?? 0);
            while (left() > 0 && Date.now() < deadline) {
              this.#options.signal?.throwIfAborted();
              if (!(await svc.step(left))) break;
            }
          }),
        ),
      );
    } finally {
      this.stats.finishedAtMs = Date.now();
    }
  }

  async #put(service: string, dataset: string, key: string, body: Uint8Array, contentType?: string): Promise<void> {
    const id = `${dataset}/${key}`;
    const accepted = await this.#client.put(dataset, key, body, contentType, this.#options.signal);
    if (this.expected.has(id)) this.stats.overwrites += 1;
    this.expected.set(id, accepted.sha256);
    this.stats.puts += 1;
    this.stats.events += 1;
    this.stats.bytes += body.byteLength;
    this.#bytesBy.set(service, (this.#bytesBy.get(service) ?? 0) + body.byteLength);
  }

  async #delete(dataset: string, key: string): Promise<void> {
    await this.#client.delete(dataset, key, this.#options.signal);
    this.expected.delete(`${dataset}/${key}`);
    this.stats.deletes += 1;
    this.stats.events += 1;
  }

  /** Runs `fn` holding `key`, or returns false at once if another worker holds it. */
  async #exclusive(dataset: string, key: string, fn: () => Promise<void>): Promise<boolean> {
    const id = `${dataset}/${key}`;
    if (this.#busy.has(id)) return false;
    this.#busy.add(id);
    try {
      await fn();
      return true;
    } finally {
      this.#busy.delete(id);
    }
  }

  #services(): Microservice[] {
    const total = this.#options.totalBytes;
    // Shards scale with the run so that even a small run writes several checkpoints.
    const shardMax = Math.max(256 * KiB, Math.min(12 * MiB, Math.floor(total / 40)));
    const shardMin = Math.max(128 * KiB, Math.floor(shardMax / 3));

    let nextStep = 100;
    const checkpoints: number[] = [];
    const trainer: Microservice = {
      name: 'trainer',
      dataset: 'models',
      share: 0.8,
      workers: 1,
      step: async (left) => {
        const step = nextStep;
        nextStep += 100;
        const prefix = `llama-mini/step-${String(step).padStart(6, '0')}`;
        const shards = between(4, 7);
        // Shards of one checkpoint are saved in parallel, as data-parallel ranks do.
        await Promise.all(
          Array.from({ length: shards }, async (_, i) => {
            const name = `${prefix}/model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
            await this.#put('trainer', 'models', name, randomBytes(Math.min(Math.max(left() / shards, 1024), between(shardMin, shardMax))));
          }),
        );
        // A rank whose upload timed out saves its shard again.
        if (Math.random() < 0.3) {
          const i = between(1, shards + 1);
          await this.#put('trainer', 'models', `${prefix}/model-${String(i).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`, randomBytes(between(shardMin, shardMax)));
        }
        await this.#put('trainer', 'models', `${prefix}/model.safetensors.index.json`, jsonRecord(prefix, between(2 * KiB, 6 * KiB)), 'application/json');
        await this.#put('trainer', 'models', 'llama-mini/latest', Buffer.from(`${prefix}\n`), 'text/plain');
        checkpoints.push(step);
        // Retention: keep the last two checkpoints.
        while (checkpoints.length > 2) {
          const old = `llama-mini/step-${String(checkpoints.shift()).padStart(6, '0')}/`;
          const keys = [...this.expected.keys()].filter((k) => k.startsWith(`models/${old}`)).map((k) => k.slice('models/'.length));
          await Promise.all(keys.map((k) => this.#delete('models', k)));
        }
        return true;
      },
    };

    let nextPart = 0;
    const etl: Microservice = {
      name: 'etl',
      dataset: 'training-data',
      share: 0.15,
      workers: 2,
      step: async () => {
        const roll = Math.random();
        if (roll < 0.1 && nextPart > 4) {
          const key = `corpus/part-${String(between(0, nextPart)).padStart(5, '0')}.jsonl.zst`;
          if (this.expected.has(`training-data/${key}`)) await this.#exclusive('training-data', key, () => this.#delete('training-data', key));
          return true;
        }
        const key = roll < 0.25 && nextPart > 0 ? `corpus/part-${String(between(0, nextPart)).padStart(5, '0')}.jsonl.zst` : `corpus/part-${String(nextPart++).padStart(5, '0')}.jsonl.zst`;
        await this.#exclusive('training-data', key, () => this.#put('etl', 'training-data', key, randomBytes(between(100 * KiB, 1536 * KiB)), 'application/zstd'));
        return true;
      },
    };

    const featureStore: Microservice = {
      name: 'feature-store',
      dataset: 'training-data',
      share: 0.05,
      workers: 6,
      step: async () => {
        const key = `features/user-${String(between(0, 400)).padStart(4, '0')}.json`;
        const id = `training-data/${key}`;
        if (Math.random() < 0.07 && this.expected.has(id)) {
          await this.#exclusive('training-data', key, () => this.#delete('training-data', key));
        } else {
          await this.#exclusive('training-data', key, () => this.#put('feature-store', 'training-data', key, jsonRecord(key, pick([300, 800, 2 * KiB, 6 * KiB, 20 * KiB])), 'application/json'));
        }
        return true;
      },
    };
    return [trainer, etl, featureStore];
  }
}
