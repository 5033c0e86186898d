import { describe, expect, it } from 'vitest';
import { reconcilerEnvSchema } from '../src/env.js';
import { allowedHere } from '../src/jobs/deps.js';

const env = (overrides: Record<string, string>) => reconcilerEnvSchema.parse(overrides);

describe('allowedHere: a pass runs no less cautiously than the instance that runs it', () => {
  it('an instance started as a dry run never writes, whatever the shared schedule says', () => {
    expect(allowedHere({ dataset: 'models', dryRun: false, unmanaged: 'report' }, env({ SHARDSYNC_RECONCILER_DRY_RUN: 'true' }))).toMatchObject({ dryRun: true });
  });

  it('an unmanaged policy the instance was not given is only reported', () => {
    const reportingHere = env({ SHARDSYNC_RECONCILER_UNMANAGED: 'report' });
    expect(allowedHere({ dataset: 'models', unmanaged: 'remove' }, reportingHere)).toMatchObject({ unmanaged: 'report' });
    expect(allowedHere({ dataset: 'models', unmanaged: 'adopt' }, env({ SHARDSYNC_RECONCILER_UNMANAGED: 'remove' }))).toMatchObject({ unmanaged: 'report' });
  });

  it('a request within the instance\'s settings runs as asked, the same object', () => {
    const request = { dataset: 'models', dryRun: true, unmanaged: 'adopt' as const };
    expect(allowedHere(request, env({ SHARDSYNC_RECONCILER_UNMANAGED: 'adopt' }))).toBe(request);
    const plain = { dataset: 'models' };
    expect(allowedHere(plain, env({}))).toBe(plain);
  });
});
