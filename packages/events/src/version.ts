import { InvalidVersionError } from './errors.js';

/**
 * A hybrid-logical-clock timestamp that totally orders every update of a key: by `physicalMs`,
 * then `logical`, then `producerId`. Issued by {@link HybridLogicalClock}.
 */
export interface Version {
  /** Milliseconds since the Unix epoch (non-negative safe integer). */
  readonly physicalMs: number;
  /** Orders versions within one millisecond: 0 to {@link MAX_LOGICAL}. */
  readonly logical: number;
  /** Which producer issued it; breaks ties so that two producers never issue equal versions. */
  readonly producerId: string;
}

/** Largest logical counter; it is an Avro `int`. */
export const MAX_LOGICAL = 2 ** 31 - 1;

/**
 * Producer ids are ASCII so that string comparison (UTF-16 code units) and byte comparison (S3
 * metadata, sorted listings) agree, and so they are safe in S3 metadata values and headers.
 */
export const PRODUCER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** S3 user-metadata key under which an object's {@link formatVersion} string is stored. */
export const VERSION_METADATA_KEY = 'shardsync-version';

const PHYSICAL_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits.
const LOGICAL_DIGITS = 10; // MAX_LOGICAL has 10 digits.
const VERSION_STRING = new RegExp(`^(\\d{${PHYSICAL_DIGITS}})\\.(\\d{${LOGICAL_DIGITS}})\\.(.*)$`, 's');

/** Every rule `version` breaks, as messages prefixed by `path`; empty when valid. */
export function versionProblems(version: Version, path = 'version'): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(version.physicalMs) || version.physicalMs < 0) {
    problems.push(`${path}.physicalMs must be a non-negative integer of milliseconds, got ${String(version.physicalMs)}`);
  }
  if (!Number.isInteger(version.logical) || version.logical < 0 || version.logical > MAX_LOGICAL) {
    problems.push(`${path}.logical must be an integer from 0 to ${MAX_LOGICAL}, got ${String(version.logical)}`);
  }
  const idProblem = producerIdProblem(version.producerId);
  if (idProblem !== undefined) problems.push(`${path}.producerId ${idProblem}`);
  return problems;
}

/** Why `id` is not a valid producer id, or undefined if it is. */
export function producerIdProblem(id: unknown): string | undefined {
  if (typeof id === 'string' && PRODUCER_ID_PATTERN.test(id)) return undefined;
  return `must be 1 to 128 ASCII letters, digits, ".", "_", ":" or "-" starting with a letter or digit, got ${JSON.stringify(id)}`;
}

/** Throws {@link InvalidVersionError} listing every problem unless `version` is valid. */
export function assertVersion(version: Version, path = 'version'): void {
  const problems = versionProblems(version, path);
  if (problems.length > 0) throw new InvalidVersionError(`invalid version: ${problems.join('; ')}`);
}

/**
 * Total order over versions: -1 if `a` is older, 1 if newer, 0 if equal. Producer ids compare
 * by code unit, which for the ASCII ids {@link PRODUCER_ID_PATTERN} allows equals byte order, so
 * every datacenter and {@link formatVersion} strings agree.
 */
export function compareVersions(a: Version, b: Version): -1 | 0 | 1 {
  if (a.physicalMs !== b.physicalMs) return a.physicalMs < b.physicalMs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.producerId !== b.producerId) return a.producerId < b.producerId ? -1 : 1;
  return 0;
}

/** True when both describe the same version. */
export function versionsEqual(a: Version, b: Version): boolean {
  return compareVersions(a, b) === 0;
}

/**
 * String form that sorts lexicographically in the same order as {@link compareVersions}:
 * `<physicalMs, 16 digits>.<logical, 10 digits>.<producerId>`, e.g.
 * `0001718000000000.0000000003.producer-east-1`. Fixed widths make the numeric parts compare
 * correctly as text; used as the S3 metadata value {@link VERSION_METADATA_KEY}.
 */
export function formatVersion(version: Version): string {
  assertVersion(version);
  const physical = String(version.physicalMs).padStart(PHYSICAL_DIGITS, '0');
  const logical = String(version.logical).padStart(LOGICAL_DIGITS, '0');
  return `${physical}.${logical}.${version.producerId}`;
}

/** Parses a {@link formatVersion} string; throws {@link InvalidVersionError} saying what is wrong. */
export function parseVersion(text: string): Version {
  const match = VERSION_STRING.exec(text);
  if (match === null) {
    throw new InvalidVersionError(
      `version string ${JSON.stringify(text)} is malformed; expected <16-digit physicalMs>.<10-digit logical>.<producerId>, e.g. "0001718000000000.0000000003.producer-1"`,
    );
  }
  const version: Version = { physicalMs: Number(match[1]), logical: Number(match[2]), producerId: match[3] ?? '' };
  const problems = versionProblems(version);
  if (problems.length > 0) throw new InvalidVersionError(`version string ${JSON.stringify(text)} is invalid: ${problems.join('; ')}`);
  return version;
}

/**
 * The version recorded in an object's metadata (`shardsync-version`), or undefined when it is
 * absent or not a version (an object another tool wrote, a field in a format of its own): such an
 * object counts as unversioned, never as ordered by its text.
 */
export function versionInMetadata(metadata: Readonly<Record<string, string>>): Version | undefined {
  const text = metadata[VERSION_METADATA_KEY];
  if (text === undefined) return undefined;
  try {
    return parseVersion(text);
  } catch {
    return undefined;
  }
}
