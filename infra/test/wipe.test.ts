import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topology } from '@shardsync/config';
import { describe, expect, it, onTestFinished } from 'vitest';
import { stackWipe } from '../src/stack.js';

// Nothing listens on ports 1-4: no server of this topology runs, so wipe only deletes.
const topology: Topology = {
  kafka: { brokers: ['127.0.0.1:1'], clientId: 'shardsync', topics: { updates: 'u', deadLetters: 'd' }, partitions: 1, replicationFactor: 1, retentionMs: 86_400_000 },
  redis: { url: 'redis://127.0.0.1:3' },
  datacenters: [{ name: 'dc-a', s3: { endpoint: 'http://127.0.0.1:4', region: 'us-east-1', bucket: 'shardsync-dc-a', forcePathStyle: true, credentials: { type: 'none' }, listing: 'flat', artifacts: 'none' } }],
  datasets: [{ name: 'models', datacenters: ['dc-a'] }],
};

describe('stack wipe', () => {
  it('deletes what the stack keeps in its state directory, and nothing the stack did not put there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardsync-wipe-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const sub of ['conf/kafka', 'kafka', 'redis', 's3/dc-a/shardsync-dc-a', 'logs', 'pids']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 's3', 'dc-a', 'shardsync-dc-a', 'object'), 'x');
    // A state directory pointed at a directory of the user's by mistake (`--state-dir .`).
    writeFileSync(join(dir, 'notes.txt'), 'precious');

    await stackWipe({ topology, stateDir: dir, stopGraceMs: 1_000, log: () => undefined });

    for (const sub of ['conf', 'kafka', 'redis', 's3', 'logs', 'pids']) expect(existsSync(join(dir, sub))).toBe(false);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
  });

  it('removes the state directory itself once it holds nothing else', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'shardsync-wipe-')), 'state');
    onTestFinished(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
    mkdirSync(join(dir, 'logs'), { recursive: true });
    await stackWipe({ topology, stateDir: dir, stopGraceMs: 1_000, log: () => undefined });
    expect(existsSync(dir)).toBe(false);
  });
});
