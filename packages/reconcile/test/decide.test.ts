import { formatVersion, META, type Version } from '@shardsync/events';
import { describe, expect, it } from 'vitest';
import { decideKey, type CopyState, type DecideOptions, type ObjectCopy, type TombstoneCopy } from '../src/index.js';
import { v } from './helpers.js';

const NOW = 10 * 24 * 3600 * 1000;
const options: DecideOptions = { unmanaged: 'report', nowMs: NOW, tombstoneGraceMs: 7 * 24 * 3600 * 1000 };

function object(version: Version | undefined, etag = `"${version?.physicalMs ?? 'hand'}"`, integrity: ObjectCopy['integrity'] = 'unchecked'): ObjectCopy {
  return {
    etag,
    size: 10,
    lastModifiedMs: NOW,
    version,
    sha256: version === undefined ? undefined : 'a'.repeat(64),
    metadata: version === undefined ? {} : { [META.version]: formatVersion(version) },
    contentType: undefined,
    integrity,
  };
}

function tombstone(version: Version, deletedAtMs = NOW - 1000): TombstoneCopy {
  return { version, metadata: { [META.version]: formatVersion(version), [META.deletedAtMs]: String(deletedAtMs) }, deletedAtMs };
}

function decide(states: Record<string, CopyState>, opts: Partial<DecideOptions> = {}) {
  const decision = decideKey(new Map(Object.entries(states)), { ...options, ...opts });
  return { winner: decision.winner, status: Object.fromEntries([...decision.copies].map(([dc, c]) => [dc, c.status])), copies: decision.copies };
}

describe('decideKey', () => {
  it('picks the highest version, whichever datacenter holds it', () => {
    const { winner, status } = decide({ a: { object: object(v(1)) }, b: { object: object(v(3)) }, c: { object: object(v(2)) } });
    expect(winner).toMatchObject({ kind: 'put', version: v(3), sources: ['b'] });
    expect(status).toEqual({ a: 'stale', b: 'equal', c: 'stale' });
  });

  it('lets a newer tombstone win over older objects: they should be deleted', () => {
    const { winner, status, copies } = decide({ a: { tombstone: tombstone(v(5)) }, b: { object: object(v(4)) }, c: {} });
    expect(winner).toMatchObject({ kind: 'delete', version: v(5), expired: false });
    expect(status).toEqual({ a: 'equal', b: 'shouldBeDeleted', c: 'missing' });
    expect(copies.get('b')?.action).toEqual({ type: 'delete', writeTombstone: true, deleteObject: true });
    expect(copies.get('c')?.action).toEqual({ type: 'delete', writeTombstone: true, deleteObject: false });
  });

  it('lets a newer put win over an older tombstone, and removes the outranked tombstone', () => {
    const { winner, status, copies } = decide({ a: { object: object(v(6)), tombstone: tombstone(v(5)) }, b: { tombstone: tombstone(v(5)) }, c: { object: object(v(6)) } });
    expect(winner).toMatchObject({ kind: 'put', version: v(6) });
    expect(status).toEqual({ a: 'stale', b: 'stale', c: 'equal' });
    expect(copies.get('a')?.action).toEqual({ type: 'remove-tombstone' });
    expect(copies.get('b')?.action).toEqual({ type: 'copy', removeTombstone: true });
  });

  it('a copy whose bytes do not match its own SHA-256 is never a repair source', () => {
    const { winner, status } = decide({ a: { object: object(v(7), '"x"', 'corrupt') }, b: { object: object(v(7), '"x"') }, c: {} });
    expect(winner).toMatchObject({ kind: 'put', sources: ['b'] });
    expect(status).toEqual({ a: 'corrupt', b: 'equal', c: 'missing' });
  });

  it('never falls back to an older healthy version when every copy of the newest is corrupt', () => {
    const { winner, status } = decide({ a: { object: object(v(7), '"x"', 'corrupt') }, b: { object: object(v(6)) } });
    expect(winner).toMatchObject({ kind: 'put', version: v(7), sources: [] });
    expect(status).toEqual({ a: 'corrupt', b: 'stale' });
  });

  it('treats an object without metadata next to a versioned copy as stale, not unmanaged', () => {
    const { status } = decide({ a: { object: object(undefined) }, b: { object: object(v(1)) } });
    expect(status).toEqual({ a: 'stale', b: 'equal' });
  });

  it('deletes an object without metadata that a tombstone outranks', () => {
    const { status } = decide({ a: { object: object(undefined) }, b: { tombstone: tombstone(v(1)) } });
    expect(status).toEqual({ a: 'shouldBeDeleted', b: 'equal' });
  });

  it('reports an object without metadata as unmanaged when no version of the key is known anywhere, and plans nothing', () => {
    const { winner, status, copies } = decide({ a: { object: object(undefined) }, b: {} });
    expect(winner).toBeUndefined();
    expect(status).toEqual({ a: 'unmanaged', b: 'equal' });
    expect(copies.get('a')?.action).toBeUndefined();
  });

  it('finds nothing to report when every datacenter holds the same unmanaged object, as a routine pass would not either', () => {
    const same = decide({ a: { object: object(undefined, '"h"') }, b: { object: object(undefined, '"h"') } });
    expect([...same.copies.values()].map((c) => c.status)).toEqual(['equal', 'equal']);
    const differ = decide({ a: { object: object(undefined, '"h1"') }, b: { object: object(undefined, '"h2"') } });
    expect([...differ.copies.values()].map((c) => c.status)).toEqual(['unmanaged', 'unmanaged']);
    const adopted = decide({ a: { object: object(undefined, '"h"') }, b: { object: { ...object(undefined, '"h"'), lastModifiedMs: NOW + 5 } } }, { unmanaged: 'adopt' });
    expect(adopted.copies.get('b')?.action).toEqual({ type: 'adopt' });
  });

  it('adopts the newest unmanaged copy under the adopt policy, but refuses when the copies differ', () => {
    const same = decide({ a: { object: object(undefined, '"h"') }, b: { object: { ...object(undefined, '"h"'), lastModifiedMs: NOW + 5 } } }, { unmanaged: 'adopt' });
    expect(same.copies.get('b')?.action).toEqual({ type: 'adopt' });
    expect(same.copies.get('a')?.action).toBeUndefined();
    const differ = decide({ a: { object: object(undefined, '"h1"') }, b: { object: object(undefined, '"h2"') } }, { unmanaged: 'adopt' });
    expect(differ.copies.get('a')?.blocked?.code).toBe('SHARDSYNC_RECONCILE_AMBIGUOUS_UNMANAGED');
  });

  it('removes unmanaged copies only under the remove policy', () => {
    const { copies } = decide({ a: { object: object(undefined) } }, { unmanaged: 'remove' });
    expect(copies.get('a')?.action).toEqual({ type: 'remove-unmanaged' });
  });

  it('obeys an expired tombstone but does not copy it to datacenters that lack it', () => {
    const old = NOW - 8 * 24 * 3600 * 1000;
    const { winner, status, copies } = decide({ a: { tombstone: tombstone(v(5), old) }, b: {}, c: { object: object(v(4)) } });
    expect(winner).toMatchObject({ kind: 'delete', expired: true });
    expect(status).toEqual({ a: 'equal', b: 'equal', c: 'shouldBeDeleted' });
    expect(copies.get('c')?.action).toEqual({ type: 'delete', writeTombstone: false, deleteObject: true });
  });

  it('ignores a tombstone with malformed metadata', () => {
    const { winner } = decide({ a: { tombstone: { version: undefined, metadata: {}, deletedAtMs: NOW } }, b: { object: object(v(1)) } });
    expect(winner).toMatchObject({ kind: 'put', version: v(1) });
  });

  it('finds nothing to do when nothing exists anywhere', () => {
    const { winner, status } = decide({ a: {}, b: {} });
    expect(winner).toBeUndefined();
    expect(status).toEqual({ a: 'equal', b: 'equal' });
  });
});
