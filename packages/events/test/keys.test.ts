import { describe, expect, it } from 'vitest';
import {
  assertDatasetName,
  assertObjectKey,
  InvalidKeyError,
  MAX_KEY_BYTES,
  RESERVED_PREFIX,
  validateDatasetName,
  validateObjectKey,
  type KeyProblem,
} from '../src/index.js';

describe('validateObjectKey', () => {
  it('accepts ordinary checkpoint keys, including non-ASCII NFC ones', () => {
    for (const key of ['a', 'checkpoints/step-100/shard-00001.safetensors', 'données/modèle.bin', '.hidden/file', 'a/.b/c..d/...']) {
      expect(validateObjectKey(key)).toEqual({ ok: true });
    }
  });

  const refused: [string, string, KeyProblem][] = [
    ['empty', '', 'empty'],
    ['over 1024 UTF-8 bytes (512 two-byte characters plus one)', 'é'.repeat(512) + 'x', 'too-long'],
    ['a leading slash', '/models/a.bin', 'leading-slash'],
    ['a backslash', 'models\\a.bin', 'backslash'],
    ['a ".." segment', 'models/../secrets', 'dot-dot-segment'],
    ['a trailing ".." segment', 'models/..', 'dot-dot-segment'],
    ['a "." segment', 'models/./a.bin', 'dot-segment'],
    ['an empty segment', 'models//a.bin', 'empty-segment'],
    ['a trailing slash', 'models/', 'empty-segment'],
    ['a C0 control character', 'models/a\nb', 'control-character'],
    ['DEL', 'models/a\u007fb', 'control-character'],
    ['a C1 control character', 'models/a\u0085b', 'control-character'],
    ['an unpaired surrogate', 'models/\ud800x', 'invalid-unicode'],
    ['a decomposed (NFD) accent', 'mode\u0301le.bin', 'not-nfc'],
    ['the reserved prefix', `${RESERVED_PREFIX}tombstones/x`, 'reserved-prefix'],
    ['exactly the reserved directory name', '.shardsync', 'reserved-prefix'],
  ];
  for (const [what, key, reason] of refused) {
    it(`refuses a key with ${what}, naming the rule`, () => {
      const result = validateObjectKey(key);
      expect(result).toMatchObject({ ok: false, reason });
      expect(() => assertObjectKey(key)).toThrow(InvalidKeyError);
    });
  }

  it('accepts exactly 1024 UTF-8 bytes and says how long an over-long key is', () => {
    expect(validateObjectKey('x'.repeat(MAX_KEY_BYTES)).ok).toBe(true);
    const result = validateObjectKey('x'.repeat(MAX_KEY_BYTES + 1));
    expect(result.ok ? '' : result.message).toContain('1025 UTF-8 bytes; the limit is 1024');
  });

  it('names the control character and where it is', () => {
    const result = validateObjectKey('ab\tc');
    expect(result.ok ? '' : result.message).toContain('U+0009 at index 2');
  });

  it('throws an error with a stable code and the reason', () => {
    const error = (() => {
      try {
        assertObjectKey('a/../b');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'SHARDSYNC_INVALID_KEY', reason: 'dot-dot-segment', retriable: false });
    expect((error as Error).message).toMatch(/"\.\." segment at position 2/);
  });
});

describe('validateDatasetName', () => {
  it('accepts lowercase names with digits, dots, underscores and dashes', () => {
    for (const name of ['llama-70b', 'a', 'ckpt_2024.06', '0day']) expect(validateDatasetName(name)).toEqual({ ok: true });
  });

  it('refuses uppercase, slashes, a leading dash, empty and over-long names', () => {
    for (const name of ['Llama', 'a/b', '-x', '', 'a'.repeat(64), '.shardsync']) {
      expect(validateDatasetName(name)).toMatchObject({ ok: false, reason: 'invalid-dataset-name' });
      expect(() => assertDatasetName(name)).toThrow(/dataset name .* is invalid/);
    }
  });
});
