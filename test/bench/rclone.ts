import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Topology } from '@shardsync/config';
import { reapedChildrenCpuSeconds } from '../demo/children.js';

const run = promisify(execFile);

export const RCLONE_MISSING = `rclone is not installed; the bulk and reconcile scenarios compare against it.
Install Debian's rclone and run the bench again:
    sudo apt-get install -y rclone        (or: apt-get install -y rclone as root)
or run only the scenarios without rclone: npm run bench -- ingest small lag memory`;

/** `rclone v1.60.1-DEV`, or undefined when rclone is not installed. */
export async function rcloneVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('rclone', ['version']);
    return stdout.split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

/** The rclone remote name of a datacenter: `dc-a` -> `DCA`. */
export function remoteOf(datacenter: string): string {
  return datacenter.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/**
 * One rclone S3 remote per datacenter, configured through environment variables only
 * (RCLONE_CONFIG_<NAME>_*): no config file is read or written.
 */
export function rcloneEnv(topology: Topology, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { RCLONE_CONFIG: '/dev/null', NO_PROXY: '127.0.0.1,localhost' };
  // rclone's S3 backend reads AWS_* (a CA bundle makes it fail on plain http) and proxies: the
  // bench talks to 127.0.0.1 only, with the remotes below and nothing else.
  for (const [k, v] of Object.entries(base)) if (!/^(AWS_|RCLONE_|HTTPS?_PROXY$|ALL_PROXY$)/i.test(k)) env[k] = v;
  for (const dc of topology.datacenters) {
    const p = `RCLONE_CONFIG_${remoteOf(dc.name)}_`;
    env[`${p}TYPE`] = 's3';
    env[`${p}PROVIDER`] = 'Other';
    env[`${p}ENDPOINT`] = dc.s3.endpoint;
    env[`${p}REGION`] = dc.s3.region;
    env[`${p}ACCESS_KEY_ID`] = 'shardsync-local';
    env[`${p}SECRET_ACCESS_KEY`] = 'shardsync-local-unchecked';
    env[`${p}FORCE_PATH_STYLE`] = 'true';
    env[`${p}NO_CHECK_BUCKET`] = 'true';
  }
  return env;
}

export interface RcloneRun {
  readonly code: number | null;
  readonly seconds: number;
  /** CPU seconds of the rclone processes (user + system). */
  readonly cpuSeconds: number;
  readonly output: string;
}

/**
 * Runs several rclone commands at once (a fan-out) and waits for all. CPU time is this process's
 * reaped-children time around the run, so nothing else may exit meanwhile.
 */
export async function rcloneParallel(commands: ReadonlyArray<readonly string[]>, env: NodeJS.ProcessEnv): Promise<RcloneRun[]> {
  const cpuBefore = reapedChildrenCpuSeconds();
  const start = performance.now();
  const runs = await Promise.all(
    commands.map(
      (args) =>
        new Promise<{ code: number | null; seconds: number; output: string }>((resolve, reject) => {
          const child = spawn('rclone', [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let output = '';
          child.stdout.on('data', (d: Buffer) => (output += d.toString()));
          child.stderr.on('data', (d: Buffer) => (output += d.toString()));
          child.once('error', reject);
          child.once('exit', (code) => resolve({ code, seconds: (performance.now() - start) / 1000, output: output.slice(-4000) }));
        }),
    ),
  );
  const cpu = reapedChildrenCpuSeconds() - cpuBefore;
  return runs.map((r) => ({ ...r, cpuSeconds: cpu / runs.length }));
}
