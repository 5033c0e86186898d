import { describe, expect, test } from 'vitest';
import { InvalidArgumentError, normalizeMetadata, PreconditionFailedError } from '../src/index.js';
import { assertConditions, normalizeConditions, resolveExpectedSha256, validateKey, validateRange } from '../src/validate.js';

const SHA = 'a'.repeat(64);

describe('argument checks shared by every store', () => {
  test('metadata keys are lower-cased and lose an x-amz-meta- prefix, as S3 returns them', () => {
    expect(normalizeMetadata({ 'Shardsync-Version': '7', 'X-Amz-Meta-Shardsync-Event-Id': 'e1' })).toEqual({ 'shardsync-version': '7', 'shardsync-event-id': 'e1' });
  });

  test('metadata S3 would mangle or reject is refused', () => {
    expect(() => normalizeMetadata({ 'bad key': 'v' })).toThrow(/not a valid HTTP header name/);
    expect(() => normalizeMetadata({ k: 'naïve' })).toThrow(/printable ASCII/);
    expect(() => normalizeMetadata({ K: 'a', k: 'b' })).toThrow(/given twice/);
    expect(() => normalizeMetadata({ k: 'x'.repeat(2048) })).toThrow(/at most 2048/);
    expect(normalizeMetadata({ K: 'same', k: 'same' })).toEqual({ k: 'same' });
  });

  test('the expected SHA-256 comes from the option or the shardsync-sha256 metadata, and they must agree', () => {
    expect(resolveExpectedSha256(undefined, {})).toBeUndefined();
    expect(resolveExpectedSha256(SHA.toUpperCase(), {})).toBe(SHA);
    expect(resolveExpectedSha256(undefined, { 'shardsync-sha256': SHA })).toBe(SHA);
    expect(() => resolveExpectedSha256('b'.repeat(64), { 'shardsync-sha256': SHA })).toThrow(/differs from metadata/);
    expect(() => resolveExpectedSha256('abc', {})).toThrow(/64 hexadecimal characters/);
  });

  test('conditions: only "*" for If-None-Match, never both, ETags quoted', () => {
    expect(normalizeConditions({ ifMatch: 'abc' })).toEqual({ ifNoneMatch: undefined, ifMatch: '"abc"' });
    expect(() => normalizeConditions({ ifNoneMatch: '*', ifMatch: '"a"' })).toThrow(/not both/);
    expect(() => normalizeConditions({ ifNoneMatch: '"abc"' as '*' })).toThrow(/only supports "\*"/);
  });

  test('conditions hold or fail as a server would decide them', () => {
    const current = { etag: '"e1"' };
    expect(() => assertConditions(undefined, normalizeConditions({ ifNoneMatch: '*' }), 'put')).not.toThrow();
    expect(() => assertConditions(current, normalizeConditions({ ifNoneMatch: '*' }), 'put')).toThrow(PreconditionFailedError);
    expect(() => assertConditions(current, normalizeConditions({ ifMatch: 'e1' }), 'put')).not.toThrow();
    expect(() => assertConditions(current, normalizeConditions({ ifMatch: '"e2"' }), 'put')).toThrow(/its ETag is "e1"/);
    expect(() => assertConditions(undefined, normalizeConditions({ ifMatch: '"e1"' }), 'put')).toThrow(/does not exist/);
  });

  test('keys and ranges', () => {
    expect(() => validateKey('')).toThrow(InvalidArgumentError);
    expect(() => validateKey('é'.repeat(513))).toThrow(/1 to 1024 UTF-8 bytes/);
    expect(() => validateRange({ start: 5, end: 4 })).toThrow(/start <= end/);
    expect(() => validateRange({ start: 0, end: 0 })).not.toThrow();
  });
});
