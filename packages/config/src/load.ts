import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyEnvOverrides } from './env-overrides.js';
import { ConfigError } from './errors.js';
import { formatIssues } from './format-issues.js';
import { topologySchema, type Topology } from './topology-schema.js';

/** File name looked up in the working directory when neither an option nor `SHARDSYNC_TOPOLOGY` names one. */
export const DEFAULT_TOPOLOGY_FILE = 'shardsync.topology.yaml';

export interface LoadTopologyOptions {
  /** Path of the YAML (or JSON, a subset of YAML) file. Default: `$SHARDSYNC_TOPOLOGY`, else `./shardsync.topology.yaml`. */
  path?: string;
  /** Environment used for the path and field overrides. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Where the topology would be read from, given these options. */
export function topologyPath(options: LoadTopologyOptions = {}): string {
  const env = options.env ?? process.env;
  // Set to '' counts as unset, as for every other variable (resolve('') is the working directory).
  const fromEnv = env['SHARDSYNC_TOPOLOGY'] === '' ? undefined : env['SHARDSYNC_TOPOLOGY'];
  return resolve(options.path ?? fromEnv ?? DEFAULT_TOPOLOGY_FILE);
}

/** Reads, overrides from the environment and validates the topology file. Throws {@link ConfigError}. */
export function loadTopology(options: LoadTopologyOptions = {}): Topology {
  const path = topologyPath(options);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      'SHARDSYNC_CONFIG_NOT_FOUND',
      `cannot read the topology file ${path}; set SHARDSYNC_TOPOLOGY to its path or run from the repository root`,
      [],
      { cause },
    );
  }
  return parseTopology(text, { ...options, path });
}

/** Validates topology text (YAML or JSON). `path` only serves the error messages. */
export function parseTopology(text: string, options: LoadTopologyOptions = {}): Topology {
  const where = options.path ?? '(inline topology)';
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ConfigError('SHARDSYNC_CONFIG_UNPARSABLE', `${where} is not valid YAML: ${detail}`, [], { cause });
  }
  const { document, sources, strays } = applyEnvOverrides(raw, options.env ?? process.env);
  const result = topologySchema.safeParse(document);
  if (!result.success || strays.length > 0) {
    const problems = [...(result.success ? [] : formatIssues(result.error.issues, (p) => sourceOf(sources, p))), ...strays];
    throw new ConfigError('SHARDSYNC_CONFIG_INVALID', `invalid topology in ${where}:`, problems);
  }
  return result.data;
}

/**
 * The variable that set the value at `path` or at a field it lies in: an override sets a whole
 * field, e.g. SHARDSYNC_KAFKA_BROKERS sets `kafka.brokers`, and the problem is with `kafka.brokers[0]`.
 */
function sourceOf(sources: ReadonlyMap<string, string>, path: string): string | undefined {
  let p = path;
  for (;;) {
    const source = sources.get(p);
    if (source !== undefined) return source;
    const parent = p.replace(/(\[\d+\]|\.[^.[]+)$/, '');
    if (parent === p) return undefined;
    p = parent;
  }
}
