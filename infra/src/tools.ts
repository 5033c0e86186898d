import { execFile } from 'node:child_process';
import { InfraError } from './errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; never throws for a non-zero exit, only when it cannot be started. */
export function run(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 600_000, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code === 'string') {
          reject(Object.assign(new Error(error.message), { code: error.code }));
          return;
        }
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Oldest Java that both Kafka 4 brokers and s3proxy 4 run on. */
export const MINIMUM_JAVA_MAJOR = 17;

/** Parses the major version out of `java -version` output (`openjdk version "17.0.15"`, `"1.8.0_402"`). */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

const JAVA_HINT = 'install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17`';
const MVN_HINT = 'install Maven, e.g. `apt-get install maven` (Debian/Ubuntu) or `brew install maven`; it fetches the Kafka and s3proxy jars from Maven Central';
const REDIS_HINT = 'install it, e.g. `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis`, or start a Redis at the topology\'s redis.url';

let javaChecked: Promise<void> | undefined;

/** Checks that `java` runs and is new enough (once per process when it succeeds). */
export function requireJava(): Promise<void> {
  javaChecked ??= checkJava().catch((error: unknown) => {
    javaChecked = undefined;
    throw error;
  });
  return javaChecked;
}

async function checkJava(): Promise<void> {
  let result: RunResult;
  try {
    result = await run('java', ['-version'], { timeoutMs: 30_000 });
  } catch (cause) {
    throw new InfraError('SHARDSYNC_INFRA_JAVA_MISSING', `\`java\` is not on PATH; ${JAVA_HINT}`, { cause });
  }
  const major = parseJavaMajor(result.stderr + result.stdout);
  if (major === undefined || major < MINIMUM_JAVA_MAJOR) {
    throw new InfraError(
      'SHARDSYNC_INFRA_JAVA_MISSING',
      `\`java -version\` reports ${major === undefined ? 'an unknown version' : `Java ${major}`}; Kafka 4 and s3proxy 4 need Java ${MINIMUM_JAVA_MAJOR}+; ${JAVA_HINT}`,
    );
  }
}

/** Checks that `mvn` runs. Only called when jars are missing from the cache. */
export async function requireMaven(): Promise<void> {
  try {
    const result = await run('mvn', ['-v'], { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(result.stderr || result.stdout);
  } catch (cause) {
    throw new InfraError('SHARDSYNC_INFRA_MVN_MISSING', `\`mvn\` is not on PATH or does not run; ${MVN_HINT}`, { cause });
  }
}

/** Checks that `redis-server` runs. Only called when no Redis answers at the topology's URL. */
export async function requireRedisServer(url: string): Promise<void> {
  try {
    const result = await run('redis-server', ['--version'], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error(result.stderr || result.stdout);
  } catch (cause) {
    throw new InfraError('SHARDSYNC_INFRA_REDIS_MISSING', `no Redis answers at ${url} and \`redis-server\` is not on PATH; ${REDIS_HINT}`, { cause });
  }
}
