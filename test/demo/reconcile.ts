import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Topology } from '@shardsync/config';
import { StorePool } from '@shardsync/objectstore';
import { renderPassReport, runPass } from '@shardsync/reconcile';

/** The outcome of one reconciliation pass over the given datasets. */
export interface PassOutcome {
  readonly datasets: readonly string[];
  /** True when the datacenters agree at the end of the pass. */
  readonly converged: boolean;
  /** Human-readable report (the CLI's table or the package's rendering). */
  readonly text: string;
  readonly via: 'cli' | 'package';
}

/** Runs one pass per dataset: through the `shardsync` CLI when it is built, else the package. */
export interface Reconciliation {
  readonly via: 'cli' | 'package';
  pass(datasets: readonly string[], options: { deep: boolean }): Promise<PassOutcome>;
  close(): Promise<void>;
}

/**
 * The operator's path first: `shardsync reconcile --deep` as its own process (exit 0
 * when the datacenters agree, 1 when divergence remains, 2 on error). Until the CLI is built,
 * the same pass through `@shardsync/reconcile`'s `runPass`, which the CLI calls as well.
 */
export function createReconciliation(repoRoot: string, topology: Topology, env: NodeJS.ProcessEnv): Reconciliation {
  const bin = join(repoRoot, 'packages', 'cli', 'bin', 'shardsync.js');
  if (existsSync(bin) && existsSync(join(repoRoot, 'packages', 'cli', 'dist', 'index.js'))) return cliReconciliation(repoRoot, bin, env);
  return packageReconciliation(topology);
}

/** Attempts of a CLI pass that finds a scheduled pass holding a dataset's pass lock (exit 2, SHARDSYNC_CLI_CONFLICT). */
const CONFLICT_ATTEMPTS = 30;
const CONFLICT_WAIT_MS = 2_000;

function cliReconciliation(repoRoot: string, bin: string, env: NodeJS.ProcessEnv): Reconciliation {
  const once = (args: readonly string[]): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, out }));
    });
  return {
    via: 'cli',
    pass: async (datasets, { deep }) => {
      // One call covers every dataset, as an operator would run it.
      const args = [bin, 'reconcile', ...(deep ? ['--deep'] : [])];
      const shown = `shardsync ${args.slice(1).join(' ')}`;
      for (let attempt = 1; ; attempt++) {
        const { code, out } = await once(args);
        if (code === 0 || code === 1) return { datasets, converged: code === 0, text: `$ ${shown}\n${out.trimEnd()}`, via: 'cli' };
        // The reconciler service's scheduled pass is repairing a dataset right now: as an
        // operator would, wait for it and run the command again.
        if (code === 2 && out.includes('[SHARDSYNC_CLI_CONFLICT]') && attempt < CONFLICT_ATTEMPTS) {
          await sleep(CONFLICT_WAIT_MS);
          continue;
        }
        throw new Error(`${shown} failed (exit ${code}):\n${out.trimEnd()}`);
      }
    },
    close: async () => undefined,
  };
}

function packageReconciliation(topology: Topology): Reconciliation {
  const stores = new StorePool(topology.datacenters);
  return {
    via: 'package',
    pass: async (datasets, { deep }) => {
      const reports = [];
      for (const dataset of datasets) reports.push(await runPass({ topology, stores, dataset, deep }));
      return { datasets, converged: reports.every((r) => r.converged), text: reports.map((r) => renderPassReport(r, { maxKeys: 10 })).join('\n\n'), via: 'package' };
    },
    close: () => stores.close(),
  };
}
