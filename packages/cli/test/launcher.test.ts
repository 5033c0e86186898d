import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const launcher = fileURLToPath(new URL('../bin/shardsync.js', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [launcher, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('bin/shardsync.js', () => {
  it('runs the command and passes its exit code on', () => {
    const ok = run(['plan', '--size', '1GiB', '--shard', '10MiB', '--datacenters', '4', '--bandwidth', '100MB/s', '--rtt', '100ms', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ shards: 103 });
    const bad = run(['plan', '--size', 'huge']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("required option '--shard <size>' not specified");
  });
});
