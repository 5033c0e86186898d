import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topology } from '@shardsync/config';
import { stringify } from 'yaml';
import { runCli, type CliIO } from '../src/index.js';

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured output, as a shell would run `shardsync <args>`. */
export async function cli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s) => ((stdout += s), true), isTTY: false },
    stderr: { write: (s) => ((stderr += s), true), isTTY: false },
    env,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** Writes a topology to a temporary YAML file, for `--topology`. */
export function writeTopology(topology: Topology): string {
  const path = join(mkdtempSync(join(tmpdir(), 'shardsync-cli-')), 'topology.yaml');
  writeFileSync(path, stringify(topology));
  return path;
}

/** A valid topology whose servers do not exist: for argument errors found before any connection. */
export function offlineTopology(): Topology {
  return {
    kafka: { brokers: ['127.0.0.1:1'], clientId: 'shardsync', topics: { updates: 'u', deadLetters: 'd' }, partitions: 3, replicationFactor: 1, retentionMs: 86_400_000 },
    redis: { url: 'redis://127.0.0.1:1' },
    datacenters: ['dc-a', 'dc-b', 'dc-c'].map((name) => ({
      name,
      s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', bucket: `bucket-${name}`, forcePathStyle: true, credentials: { type: 'none' as const }, listing: 'flat' as const, artifacts: 'none' as const },
    })),
    datasets: [{ name: 'models', datacenters: ['dc-a', 'dc-b', 'dc-c'] }],
  };
}
