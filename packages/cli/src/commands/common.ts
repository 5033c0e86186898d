import type { Datacenter, Dataset, Topology } from '@shardsync/config';
import { UsageError } from '../errors.js';
import { parseInteger } from '../units.js';

/** The datacenter named by an option, or a usage error listing the known ones. */
export function requireDatacenter(topology: Topology, name: string, option = '--datacenter'): Datacenter {
  const dc = topology.datacenters.find((d) => d.name === name);
  if (dc === undefined) {
    throw new UsageError(`${option}: datacenter ${JSON.stringify(name)} is not in the topology; known datacenters: ${topology.datacenters.map((d) => d.name).join(', ')}`);
  }
  return dc;
}

/** The dataset named by an argument or option, or a usage error listing the known ones. */
export function requireDataset(topology: Topology, name: string, what = 'dataset'): Dataset {
  const ds = topology.datasets.find((d) => d.name === name);
  if (ds === undefined) {
    throw new UsageError(`${what}: dataset ${JSON.stringify(name)} is not in the topology; known datasets: ${topology.datasets.map((d) => d.name).join(', ')}`);
  }
  return ds;
}

/**
 * The consumers' tombstone grace period as `SHARDSYNC_TOMBSTONE_GRACE_MS` gives it to the CLI, or
 * undefined (the 7-day default): passes must not copy tombstones the consumers already expired,
 * nor fail to copy ones they still keep.
 */
export function tombstoneGraceFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env['SHARDSYNC_TOMBSTONE_GRACE_MS'];
  return text === undefined || text === '' ? undefined : parseInteger(text, 'SHARDSYNC_TOMBSTONE_GRACE_MS', 1);
}
