import type { TestProject } from 'vitest/node';
import { stackDown, stackStatus, stackUp } from '@shardsync/infra';
import type { StackInfo } from './stack-info.js';

/**
 * Vitest global setup of the integration project: starts the local stack (Kafka, Redis, one
 * S3 server per datacenter) once per run and tells the tests where it listens. A stack that
 * was already healthy before the run is left running afterwards; one this run started is
 * stopped again.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stderr.write(`[stack] ${line}\n`);
  const before = await stackStatus({ log }).catch(() => undefined);
  const status = await stackUp({ log });
  const info: StackInfo = {
    kafka: { brokers: status.kafka.brokers },
    redis: { url: status.redis.url },
    datacenters: status.datacenters.map((d) => ({ name: d.name, endpoint: d.endpoint, region: d.region, bucket: d.bucket })),
    topologyPath: status.topologyPath,
    stateDir: status.stateDir,
  };
  project.provide('stack', info);
  return async () => {
    if (before?.healthy !== true) await stackDown({ log });
  };
}
