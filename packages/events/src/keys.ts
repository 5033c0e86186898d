import { InvalidKeyError, type KeyProblem } from './errors.js';

/**
 * Prefix under which shardsync keeps its own objects (tombstones, staged payloads) inside users'
 * buckets. User keys may not start with it, so a user object can never overwrite internal state.
 */
export const RESERVED_PREFIX = '.shardsync/';

/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Dataset names: lowercase, digits, `.`, `_`, `-`; start with a letter or digit; at most 63 characters. */
export const DATASET_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Result of a validation: `ok`, or the first rule broken with a message fit for an API error. */
export type KeyValidation =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: KeyProblem; readonly message: string };

const OK: KeyValidation = { ok: true };

// An unpaired surrogate has no UTF-8 encoding; Buffer.from would silently replace it with U+FFFD,
// so two different keys would name the same object.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Index of the first C0 control, DEL or C1 control, or -1. These are invisible in logs and consoles, and
 * several S3 implementations reject or mangle them, so such a key would not replicate everywhere.
 */
export function firstControlCharacter(key: string): number {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return i;
  }
  return -1;
}

function refuse(reason: KeyProblem, message: string): KeyValidation {
  return { ok: false, reason, message };
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A name as an error message quotes it: its first 80 characters, so a message (and the answer
 * that carries it, one per item of a batch) stays small whatever a client sent.
 */
export function quotedForMessage(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

/**
 * Checks that `key` is a key every datacenter's store accepts and that means the same object
 * everywhere. Rules, checked in this order (the first broken one is reported):
 * not empty; valid Unicode; at most {@link MAX_KEY_BYTES} UTF-8 bytes; no control characters
 * (C0, DEL, C1); no backslash; no leading `/`; not under {@link RESERVED_PREFIX}; no empty, `.`
 * or `..` segments (filesystem-backed stores such as MinIO map keys to paths, where these
 * collapse or escape); NFC-normalised (otherwise "é" typed two ways would be two objects).
 */
export function validateObjectKey(key: string): KeyValidation {
  const shown = quotedForMessage(key);
  if (key.length === 0) return refuse('empty', 'key is empty; give the object a name such as "checkpoints/step-100/shard-0.bin"');
  if (LONE_SURROGATE.test(key)) {
    return refuse('invalid-unicode', `key ${shown} contains an unpaired UTF-16 surrogate, which has no UTF-8 form; fix how the key is built`);
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    return refuse('too-long', `key ${shown} is ${bytes} UTF-8 bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  const control = firstControlCharacter(key);
  if (control >= 0) {
    return refuse(
      'control-character',
      `key ${shown} contains control character ${codePoint(key.charAt(control))} at index ${control}; remove it`,
    );
  }
  if (key.includes('\\')) {
    return refuse('backslash', `key ${shown} contains a backslash; use "/" to separate path segments`);
  }
  if (key.startsWith('/')) {
    return refuse('leading-slash', `key ${shown} starts with "/"; keys are relative to the dataset, drop the leading slash`);
  }
  if (key.startsWith(RESERVED_PREFIX) || key === RESERVED_PREFIX.slice(0, -1)) {
    return refuse('reserved-prefix', `key ${shown} is under "${RESERVED_PREFIX}", which is reserved for shardsync's own objects; choose another name`);
  }
  const segments = key.split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment === '') {
      return refuse('empty-segment', `key ${shown} has an empty segment at position ${i + 1} ("//" or a trailing "/"); remove the extra slash`);
    }
    if (segment === '.') {
      return refuse('dot-segment', `key ${shown} has a "." segment at position ${i + 1}; some stores and clients collapse it, remove it`);
    }
    if (segment === '..') {
      return refuse('dot-dot-segment', `key ${shown} has a ".." segment at position ${i + 1}; path traversal segments are refused`);
    }
  }
  if (key.normalize('NFC') !== key) {
    return refuse('not-nfc', `key ${shown} is not in Unicode NFC form; normalise it with key.normalize("NFC") so it names one object everywhere`);
  }
  return OK;
}

/** Throws {@link InvalidKeyError} unless {@link validateObjectKey} accepts `key`. */
export function assertObjectKey(key: string): void {
  const result = validateObjectKey(key);
  if (!result.ok) throw new InvalidKeyError(result.reason, result.message);
}

/**
 * Checks a dataset name against {@link DATASET_NAME_PATTERN}. Dataset names appear in Kafka
 * message keys, tombstone paths and metrics labels, hence the narrow alphabet and no `/`.
 */
export function validateDatasetName(name: string): KeyValidation {
  if (DATASET_NAME_PATTERN.test(name)) return OK;
  return refuse(
    'invalid-dataset-name',
    `dataset name ${JSON.stringify(name)} is invalid; use 1 to 63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit`,
  );
}

/** Throws {@link InvalidKeyError} unless {@link validateDatasetName} accepts `name`. */
export function assertDatasetName(name: string): void {
  const result = validateDatasetName(name);
  if (!result.ok) throw new InvalidKeyError(result.reason, result.message);
}
