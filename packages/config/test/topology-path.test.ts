import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPOLOGY_FILE, topologyPath } from '../src/index.js';

describe('topologyPath', () => {
  it('reads SHARDSYNC_TOPOLOGY, and takes it set to "" as unset rather than as the working directory', () => {
    expect(topologyPath({ env: { SHARDSYNC_TOPOLOGY: '/etc/shardsync/t.yaml' } })).toBe('/etc/shardsync/t.yaml');
    expect(topologyPath({ env: { SHARDSYNC_TOPOLOGY: '' } })).toBe(resolve(DEFAULT_TOPOLOGY_FILE));
    expect(topologyPath({ env: {} })).toBe(resolve(DEFAULT_TOPOLOGY_FILE));
    expect(topologyPath({ path: 'other.yaml', env: { SHARDSYNC_TOPOLOGY: '/etc/shardsync/t.yaml' } })).toBe(resolve('other.yaml'));
  });
});
