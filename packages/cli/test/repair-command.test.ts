import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderVerify, type VerifyReport } from '../src/index.js';

/** The arguments a POSIX shell passes to `shardsync` when the operator pastes `command`. */
function argumentsOf(command: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `shardsync() { printf '%s\\0' "$@"; }\n${command}`], { encoding: 'utf8', env: {} });
  return out.split('\0').slice(0, -1);
}

function divergent(key: string): VerifyReport {
  const object = { version: '0000000000001000.0000000000.p', sha256: 'a'.repeat(64), size: 4, etag: '"e"', lastModified: '2026-01-01T00:00:00.000Z', contentType: undefined, integrity: 'unchecked' as const };
  return {
    dataset: 'logs',
    key,
    winner: { kind: 'put', version: object.version, sha256: object.sha256, size: 4 },
    copies: [
      { datacenter: 'dc-a', object, status: 'equal' },
      { datacenter: 'dc-b', status: 'missing' },
    ],
    agree: false,
    found: true,
  };
}

describe("verify's repair command", () => {
  it.each(['hadoop/_$folder$', "it's `here`.bin", 'back\\slash "quoted" !x.bin', 'plain/key.bin'])('names exactly the key %j when pasted into a shell', (key) => {
    const text = renderVerify(divergent(key));
    const command = /repair with: (.*)$/m.exec(text)?.[1];
    expect(command).toBeDefined();
    expect(argumentsOf(command ?? '')).toEqual(['reconcile', '--dataset', 'logs', '--key', key]);
  });
});
