import { describe, expect, test } from 'vitest';
import {
  compileObjectStoreOptions,
  isS3ProxyArtifact,
  ObjectStoreConfigError,
  resolveS3Credentials,
} from '../src/index.js';

const MiB = 1024 * 1024;

describe('compileObjectStoreOptions', () => {
  test('fills documented defaults', () => {
    expect(compileObjectStoreOptions()).toEqual({
      singlePutMaxBytes: 16 * MiB,
      partSizeBytes: 16 * MiB,
      partConcurrency: 4,
      conditionalWrites: 'auto',
      verifyEtags: true,
      unsignedPayload: true,
      listPageSize: 1000,
      listing: 'flat',
      listConcurrency: 8,
      listExclude: undefined,
      connectionTimeoutMs: 5_000,
      requestTimeoutMs: 120_000,
      socketIdleTimeoutMs: 30_000,
      maxSockets: 64,
      maxAttempts: 2,
      cleanupTimeoutMs: 15_000,
      maxObjectBytes: 16 * MiB * 10_000,
    });
  });

  test('refuses a part size below S3 minimum, naming the field and the bounds', () => {
    expect(() => compileObjectStoreOptions({ partSizeBytes: 4 * MiB })).toThrow(ObjectStoreConfigError);
    expect(() => compileObjectStoreOptions({ partSizeBytes: 4 * MiB })).toThrow(/partSizeBytes must be an integer from 5242880 to 5368709120, got 4194304/);
  });

  test.each([
    ['singlePutMaxBytes', { singlePutMaxBytes: 6 * 1024 * MiB }],
    ['partConcurrency', { partConcurrency: 0 }],
    ['listPageSize', { listPageSize: 1001 }],
    ['listConcurrency', { listConcurrency: 0 }],
    ['requestTimeoutMs', { requestTimeoutMs: 1.5 }],
    ['maxAttempts', { maxAttempts: Number.NaN }],
  ])('refuses an out-of-range %s', (field, options) => {
    expect(() => compileObjectStoreOptions(options)).toThrow(new RegExp(`option ${field} must be`));
  });

  test('refuses an unknown conditional-write mode', () => {
    expect(() => compileObjectStoreOptions({ conditionalWrites: 'maybe' as 'auto' })).toThrow(/"native", "emulated" or "auto"/);
  });

  test('refuses an unknown listing strategy', () => {
    expect(() => compileObjectStoreOptions({ listing: 'tree' as 'flat' })).toThrow(/listing must be "flat" or "folders", got "tree"/);
  });

  test('derives the largest object from the part size', () => {
    expect(compileObjectStoreOptions({ partSizeBytes: 64 * MiB }).maxObjectBytes).toBe(64 * MiB * 10_000);
  });
});

describe('isS3ProxyArtifact', () => {
  const id = '750e0517-2eb0-465c-9488-0b0000a18040';
  test.each([`.mpus-${id}-dir/m-stub`, `.mpus-${id}-dir/m-1`, id, `${id}-49aaf6a9-8f01-43c8-9155-1f04c920a256`, `ds/big.bin-${id}`])('hides %s', (key) => {
    expect(isS3ProxyArtifact(key)).toBe(true);
  });
  test.each(['ds/model.bin', '.mpus-not-an-id', `${id}x`, '.shardsync/staging/abc'])('keeps %s', (key) => {
    expect(isS3ProxyArtifact(key)).toBe(false);
  });
});

describe('resolveS3Credentials', () => {
  test('type none signs with a fixed placeholder', () => {
    expect(resolveS3Credentials({ type: 'none' })).toEqual({ accessKeyId: 'shardsync-local', secretAccessKey: 'shardsync-local-unchecked' });
  });

  test('type env reads the named variables, the session token only when named', () => {
    const env = { DC_KEY: 'AKIA', DC_SECRET: 's3cr3t', DC_TOKEN: 'tok' };
    expect(resolveS3Credentials({ type: 'env', accessKeyIdEnv: 'DC_KEY', secretAccessKeyEnv: 'DC_SECRET' }, env)).toEqual({ accessKeyId: 'AKIA', secretAccessKey: 's3cr3t' });
    expect(resolveS3Credentials({ type: 'env', accessKeyIdEnv: 'DC_KEY', secretAccessKeyEnv: 'DC_SECRET', sessionTokenEnv: 'DC_TOKEN' }, env)).toEqual({
      accessKeyId: 'AKIA',
      secretAccessKey: 's3cr3t',
      sessionToken: 'tok',
    });
  });

  test('a missing or empty variable is named in the error', () => {
    expect(() => resolveS3Credentials({ type: 'env', accessKeyIdEnv: 'DC_KEY', secretAccessKeyEnv: 'DC_SECRET' }, { DC_KEY: 'AKIA', DC_SECRET: '' })).toThrow(
      /environment variable DC_SECRET is not set; .* secret access key/,
    );
  });
});
