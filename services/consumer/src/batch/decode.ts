import type { Topology } from '@shardsync/config';
import type { ConsumedEvent } from '@shardsync/eventlog';
import { decodeShardUpdate, objectKeyOf, type SchemaRegistry, type ShardUpdate } from '@shardsync/events';
import { codeOf } from '../apply/errors.js';

/** One event of a batch, sorted into what the processor does with it. */
export type Classified =
  | { kind: 'update'; event: ConsumedEvent; update: ShardUpdate }
  /** For a dataset this datacenter does not hold: nothing to do. */
  | { kind: 'not-ours'; event: ConsumedEvent }
  | { kind: 'dead'; event: ConsumedEvent; code: string; message: string };

/** Decodes an event and checks it concerns a dataset of the topology. Never throws. */
export function classify(event: ConsumedEvent, topology: Topology, datacenter: string, registry: SchemaRegistry): Classified {
  if (event.value === null) return { kind: 'dead', event, code: 'SHARDSYNC_UNDECODABLE_EVENT', message: 'the event has no value (a Kafka tombstone?)' };
  let update: ShardUpdate;
  try {
    update = decodeShardUpdate(event.value, event.headers, registry);
  } catch (err) {
    return { kind: 'dead', event, code: codeOf(err), message: err instanceof Error ? err.message : String(err) };
  }
  const dataset = topology.datasets.find((d) => d.name === update.dataset);
  if (dataset === undefined) {
    return { kind: 'dead', event, code: 'SHARDSYNC_UNKNOWN_DATASET', message: `dataset "${update.dataset}" is not in this consumer's topology` };
  }
  if (!dataset.datacenters.includes(datacenter)) return { kind: 'not-ours', event };
  return { kind: 'update', event, update };
}

/** The events of one key in a batch, in offset order. */
export interface KeyGroup {
  id: string;
  updates: Array<{ event: ConsumedEvent; update: ShardUpdate }>;
}

/** Groups updates by key, keeping offset order inside each key. */
export function groupByKey(items: Array<{ event: ConsumedEvent; update: ShardUpdate }>): KeyGroup[] {
  const groups = new Map<string, KeyGroup>();
  for (const item of items) {
    const id = objectKeyOf(item.update.dataset, item.update.key);
    let group = groups.get(id);
    if (group === undefined) {
      group = { id, updates: [] };
      groups.set(id, group);
    }
    group.updates.push(item);
  }
  return [...groups.values()];
}
