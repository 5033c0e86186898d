import { PutObjectCommand } from '@aws-sdk/client-s3';
import { formatVersion, META, objectKeyOf } from '@shardsync/events';
import type { KeyInspection } from '@shardsync/reconcile';
import { createTestTopology, rawS3Client } from '@shardsync/testing';
import { describe, expect, it } from 'vitest';
import { cli, writeTopology } from './helpers.js';
import { cliJson, putManaged, putTombstone, sha256, storesOf, v } from './int-helpers.js';

const DCS = ['dc-a', 'dc-b', 'dc-c'];

describe('shardsync verify', () => {
  it('shows the same version, SHA-256 and size in every datacenter and exits 0, or the stale copies and exits 1', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    for (const dc of DCS) await putManaged(pool, dc, dataset, 'models/a.bin', 'version one', v(1000));

    const same = await cliJson<KeyInspection>(topology, ['verify', dataset, 'models/a.bin']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.json.agree).toBe(true);
    expect(same.json.winner).toEqual({ kind: 'put', version: formatVersion(v(1000)), sha256: sha256('version one'), size: 11 });
    expect(same.json.copies.map((c) => [c.datacenter, c.status, c.object?.version, c.object?.sha256, c.object?.size])).toEqual(
      DCS.map((dc) => [dc, 'equal', formatVersion(v(1000)), sha256('version one'), 11]),
    );

    await putManaged(pool, 'dc-a', dataset, 'models/a.bin', 'version two', v(2000));
    const stale = await cliJson<KeyInspection>(topology, ['verify', dataset, 'models/a.bin']);
    expect(stale.code).toBe(1);
    expect(stale.json.copies.map((c) => c.status)).toEqual(['equal', 'stale', 'stale']);

    const text = await cli(['verify', dataset, 'models/a.bin', '--topology', writeTopology(topology)]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`winner: version ${formatVersion(v(2000))}, sha256 ${sha256('version two')}, 11 B (11 bytes)`);
    expect(text.stdout).toMatch(/dc-b\s+stale\s+0000000000001000\.0000000000\.producer-1/);
    expect(text.stdout).toContain(`result: the datacenters disagree; repair with: shardsync reconcile --dataset ${dataset} --key "models/a.bin"`);
  });

  it('shows tombstones, and copies a newer delete says must be gone', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    for (const dc of ['dc-a', 'dc-b']) await putManaged(pool, dc, dataset, 'gone.bin', 'old', v(1000));
    await putTombstone(pool, 'dc-c', dataset, 'gone.bin', v(2000));

    const run = await cliJson<KeyInspection>(topology, ['verify', dataset, 'gone.bin']);
    expect(run.code).toBe(1);
    expect(run.json.winner).toEqual({ kind: 'delete', version: formatVersion(v(2000)) });
    expect(run.json.copies.map((c) => c.status)).toEqual(['shouldBeDeleted', 'shouldBeDeleted', 'equal']);
    expect(run.json.copies[2]?.tombstone?.version).toBe(formatVersion(v(2000)));
  });

  it('with --deep, finds bytes that do not match their recorded SHA-256', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    for (const dc of DCS) await putManaged(pool, dc, dataset, 'rot.bin', 'healthy bytes', v(1000));
    // Bit rot: same metadata, other bytes, written behind shardsync's back.
    const bucket = topology.datacenters.find((d) => d.name === 'dc-b')?.s3.bucket;
    await rawS3Client('dc-b').send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: objectKeyOf(dataset, 'rot.bin'),
        Body: 'rotten bytes!',
        Metadata: { [META.version]: formatVersion(v(1000)), [META.sha256]: sha256('healthy bytes') },
      }),
    );

    expect((await cliJson<KeyInspection>(topology, ['verify', dataset, 'rot.bin'])).code).toBe(0);
    const deep = await cliJson<KeyInspection>(topology, ['verify', dataset, 'rot.bin', '--deep']);
    expect(deep.code).toBe(1);
    expect(deep.json.copies.map((c) => [c.datacenter, c.object?.integrity, c.status])).toEqual([
      ['dc-a', 'ok', 'equal'],
      ['dc-b', 'corrupt', 'corrupt'],
      ['dc-c', 'ok', 'equal'],
    ]);
    // Rotten bytes keep their ETag: only a pass that reads them can repair them, so the hint says --deep.
    const text = await cli(['verify', dataset, 'rot.bin', '--deep', '--topology', writeTopology(topology)]);
    expect(text.stdout).toContain(`repair with: shardsync reconcile --dataset ${dataset} --key "rot.bin" --deep`);
  });

  it('agrees on the same unmanaged object everywhere, and for different ones suggests what can repair them', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const byHand = (dc: string, key: string, body: string) =>
      rawS3Client(dc).send(new PutObjectCommand({ Bucket: topology.datacenters.find((d) => d.name === dc)?.s3.bucket, Key: objectKeyOf(dataset, key), Body: body }));
    for (const dc of DCS) await byHand(dc, 'same.bin', 'same everywhere');
    expect((await cliJson<KeyInspection>(topology, ['verify', dataset, 'same.bin'])).code).toBe(0);

    for (const dc of DCS) await byHand(dc, 'differs.bin', `written in ${dc}`);
    const differs = await cli(['verify', dataset, 'differs.bin', '--topology', writeTopology(topology)]);
    expect(differs.code).toBe(1);
    // Adopting needs a single object: the hint does not offer it alone.
    expect(differs.stdout).toContain('--remove-unmanaged (deletes them all), or delete all but one by hand, then --adopt-unmanaged');
  });

  it('exits 3 for a key that is in no datacenter (a typo), saying so rather than that the datacenters agree', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const run = await cliJson<KeyInspection & { found: boolean }>(topology, ['verify', dataset, 'never/written']);
    expect(run.code).toBe(3);
    expect(run.json.winner).toBeUndefined();
    expect(run.json.found).toBe(false);
    const text = await cli(['verify', dataset, 'never/written', '--topology', writeTopology(topology)]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('result: no datacenter holds this key (neither an object nor a tombstone); check its spelling');
    expect(text.stdout).not.toContain('the datacenters agree');
    // Keys are relative to the dataset: one that repeats the dataset's name gets a note.
    const doubled = await cli(['verify', dataset, `${dataset}/never/written`, '--topology', writeTopology(topology)]);
    expect(doubled.code).toBe(3);
    expect(doubled.stdout).toContain('note: the key is relative to the dataset; did you mean "never/written"?');
  });

  it('exits 0 for a key deleted in every datacenter: tombstones everywhere are a state the datacenters agree on', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const pool = storesOf(topology);
    for (const dc of DCS) await putTombstone(pool, dc, dataset, 'deleted.bin', v(1000));
    const run = await cliJson<KeyInspection & { found: boolean }>(topology, ['verify', dataset, 'deleted.bin']);
    expect(run.code, run.stdout).toBe(0);
    expect(run.json.found).toBe(true);
    expect(run.json.winner).toEqual({ kind: 'delete', version: formatVersion(v(1000)) });
  });

  it('exits 2 when a datacenter cannot be read, still showing the others', async () => {
    const topology = await createTestTopology();
    const dataset = topology.datasets[0]?.name ?? '';
    const env = { ...process.env, SHARDSYNC_DC_DC_C_S3_ENDPOINT: 'http://127.0.0.1:1' };
    const run = await cliJson<KeyInspection>(topology, ['verify', dataset, 'a.bin'], env);
    expect(run.code).toBe(2);
    expect(run.json.copies[2]?.error?.code).toBe('SHARDSYNC_STORE_UNAVAILABLE');
    expect(run.json.copies[0]?.status).toBe('equal');
  });
});
