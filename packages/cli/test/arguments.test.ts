import { describe, expect, it } from 'vitest';
import { cli, offlineTopology, writeTopology } from './helpers.js';

const topology = writeTopology(offlineTopology());
const PLAN = ['plan', '--size', '1GiB', '--shard', '10MiB', '--datacenters', '4', '--bandwidth', '100MB/s', '--rtt', '100ms'];

describe('command line', () => {
  it('prints the help with the exit codes and exits 0', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: shardsync');
    expect(run.stdout).toContain('Exit codes: 0 ok; 1');
  });

  it('exits 2 without a command, and for an unknown command or option', async () => {
    expect((await cli([])).code).toBe(2);
    const unknown = await cli(['statuss']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'statuss'");
    const option = await cli(['status', '--fast']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--fast'");
  });

  it('with --json, puts a parse error on stdout as JSON too, like every other error', async () => {
    for (const [args, message] of [
      [['verify', 'models', '--json'], "missing required argument 'key'"],
      [['--json', 'statuss'], "unknown command 'statuss'"],
      [['status', '--fast', '--json'], "unknown option '--fast'"],
      [['dlq', '--json'], 'a command is required'],
    ] as const) {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(JSON.parse(run.stdout) as unknown).toMatchObject({ error: 'SHARDSYNC_CLI_USAGE', message: expect.stringContaining(message) as string, retriable: false });
    }
  });

  it('names a missing required option', async () => {
    const run = await cli(['bootstrap', '--topology', topology]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--datacenter <name>' not specified");
  });

  it('runs plan, with global options before or after the command', async () => {
    const text = await cli(PLAN);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('predicted time:');
    const json = await cli(['--json', ...PLAN]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ shards: 103, peers: 3, boundBy: 'bandwidth' });
    expect(JSON.parse((await cli([...PLAN, '--json'])).stdout)).toMatchObject({ shards: 103 });
  });

  it('rejects a unit it cannot read, naming the option, as JSON with --json', async () => {
    const run = await cli([...PLAN.slice(0, -1), '100', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      error: 'SHARDSYNC_CLI_INVALID_ARGUMENT',
      message: '--rtt: "100" is not a duration; add a unit, e.g. 100ms or 100s',
      retriable: false,
    });
    const link = await cli([...PLAN, '--link', 'wormhole']);
    expect(link.code).toBe(2);
    expect(link.stderr).toContain("argument 'wormhole' is invalid. Allowed choices are shared, per-peer");
  });

  it('refuses --adopt-unmanaged together with --remove-unmanaged', async () => {
    const run = await cli(['reconcile', '--topology', topology, '--adopt-unmanaged', '--remove-unmanaged']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot be used with/);
  });

  it('takes --key for exact keys of one dataset, never with --prefix, and refuses bad keys before connecting anywhere', async () => {
    const both = await cli(['reconcile', '--topology', topology, '--dataset', 'models', '--key', 'tmp/a.bin', '--prefix', 'tmp/']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/option '--key <key>' cannot be used with option '--prefix <prefix>'/);
    const noDataset = await cli(['reconcile', '--topology', topology, '--key', 'tmp/a.bin']);
    expect(noDataset.code).toBe(2);
    expect(noDataset.stderr).toContain('--key names a key of one dataset; add --dataset <name>');
    const bad = await cli(['reconcile', '--topology', topology, '--dataset', 'models', '--key', 'tmp/a.bin', '--key', 'a/../b']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--key: key "a/../b" has a ".." segment');
    const help = await cli(['reconcile', '--help']);
    expect(help.stdout).toContain('--key <key>');
  });

  it('names unknown datacenters and datasets with the known ones, before connecting anywhere', async () => {
    const dc = await cli(['reconcile', '--topology', topology, '--datacenter', 'dc-z']);
    expect(dc.code).toBe(2);
    expect(dc.stderr).toContain('--datacenter: datacenter "dc-z" is not in the topology; known datacenters: dc-a, dc-b, dc-c');
    const ds = await cli(['verify', '--topology', topology, 'imagenet', 'a.bin']);
    expect(ds.code).toBe(2);
    expect(ds.stderr).toContain('dataset "imagenet" is not in the topology; known datasets: models');
    const replay = await cli(['dlq', 'replay', '--topology', topology, '--datacenter', 'mars']);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toContain('datacenter "mars" is not in the topology');
  });

  it('discards dead letters only when told which ones and confirmed, before connecting anywhere', async () => {
    const unselected = await cli(['dlq', 'discard', '--topology', topology, '--yes']);
    expect(unselected.code).toBe(2);
    expect(unselected.stderr).toContain('choose the letters to discard with --code and/or --datacenter, or --all for every pending letter');
    const both = await cli(['dlq', 'discard', '--topology', topology, '--all', '--code', 'X', '--yes']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--all discards every pending letter; it cannot be combined with --datacenter or --code');
    const unconfirmed = await cli(['dlq', 'discard', '--topology', topology, '--code', 'SHARDSYNC_UNDECODABLE_EVENT', '--json']);
    expect(unconfirmed.code).toBe(2);
    expect(JSON.parse(unconfirmed.stdout)).toMatchObject({ error: 'SHARDSYNC_CLI_USAGE', message: expect.stringContaining('add --yes to confirm') as unknown, hint: expect.stringContaining('--dry-run') as unknown });
    const dc = await cli(['dlq', 'discard', '--topology', topology, '--datacenter', 'mars', '--yes']);
    expect(dc.code).toBe(2);
    expect(dc.stderr).toContain('datacenter "mars" is not in the topology');
  });

  it('refuses keys that cannot name an object, saying why', async () => {
    const run = await cli(['verify', '--topology', topology, 'models', 'a/../b']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('key: key "a/../b" has a ".." segment');
  });

  it('refuses bad numbers and rates', async () => {
    const limit = await cli(['dlq', 'list', '--topology', topology, '--limit', 'all']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit: "all" is not a whole number');
    const budget = await cli(['reconcile', '--topology', topology, '--deep', '--bytes-per-second', 'fast']);
    expect(budget.code).toBe(2);
    expect(budget.stderr).toContain('--bytes-per-second: "fast" is not a rate');
    const age = await cli(['status', '--topology', topology, '--max-age', '5']);
    expect(age.code).toBe(2);
    expect(age.stderr).toContain('--max-age: "5" is not a duration; add a unit');
    const none = await cli(['dlq', 'list', '--topology', topology, '--limit', '0']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--limit: must be at least 1, got 0');
    // A budget for reads that a pass without --deep never makes is a mistake, not a no-op.
    const unpaced = await cli(['reconcile', '--topology', topology, '--bytes-per-second', '50MB/s']);
    expect(unpaced.code).toBe(2);
    expect(unpaced.stderr).toContain('--bytes-per-second paces the reads of --deep');
    // A limit on an age that is never read would never find a problem: a health check that always passes.
    const unread = await cli(['status', '--topology', topology, '--max-age', '5min', '--no-age']);
    expect(unread.code).toBe(2);
    expect(unread.stderr).toContain('--max-age needs the age of the oldest unapplied events, which --no-age skips reading');
  });

  it('says where it looked for a missing topology file and how to point at one', async () => {
    const run = await cli(['status', '--topology', '/nonexistent/topology.yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('cannot read the topology file /nonexistent/topology.yaml');
    expect(run.stderr).toContain('hint: pass --topology <file>, set SHARDSYNC_TOPOLOGY');
  });
});
