import type { Datacenter, Dataset, Topology } from '@shardsync/config';
import { UsageError } from '../errors.js';

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
