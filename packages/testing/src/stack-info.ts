import { inject } from 'vitest';

/** Where the real servers of this test run listen; provided by the global setup. */
export interface StackInfo {
  kafka: { brokers: string[] };
  redis: { url: string };
  datacenters: Array<{ name: string; endpoint: string; region: string; bucket: string }>;
  /** Path of the topology file the stack was started from. */
  topologyPath: string;
  /** State directory of the local stack (logs, pid files, server data). */
  stateDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** The running stack, as the global setup started it. Only valid inside the integration project. */
export function stackInfo(): StackInfo {
  const info = inject('stack');
  if (info === undefined) {
    throw new Error('no stack was provided: integration tests must run in the "integration" vitest project, whose global setup starts the servers');
  }
  return info;
}

/** The named datacenter of the running stack, or an error listing the known ones. */
export function stackDatacenter(name: string): StackInfo['datacenters'][number] {
  const info = stackInfo();
  const dc = info.datacenters.find((d) => d.name === name);
  if (dc === undefined) throw new Error(`datacenter "${name}" is not in the test stack; known: ${info.datacenters.map((d) => d.name).join(', ')}`);
  return dc;
}
