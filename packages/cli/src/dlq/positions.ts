import { InvalidArgumentError } from '../errors.js';

/**
 * Last offsets to act on, per dead-letter partition (inclusive): what a dry run read, so the
 * confirmed run that follows acts on exactly the letters the operator reviewed and not on letters
 * that arrived in between. A partition not named is not read at all.
 */
export type LetterPositions = ReadonlyMap<number, bigint>;

const POSITION = /^(\d+):(\d+)$/;

/** Parses `--through 0:41,2:17` (partition:offset, comma-separated; each partition once). */
export function parsePositions(text: string, option = '--through'): LetterPositions {
  const positions = new Map<number, bigint>();
  for (const part of text.split(',')) {
    const match = POSITION.exec(part.trim());
    if (match === null) {
      throw new InvalidArgumentError(option, `${JSON.stringify(part.trim())} is not partition:offset; write what the dry run printed, e.g. 0:41,2:17`);
    }
    const partition = Number(match[1]);
    if (!Number.isSafeInteger(partition)) throw new InvalidArgumentError(option, `partition ${match[1]} is too large`);
    if (positions.has(partition)) throw new InvalidArgumentError(option, `partition ${partition} is named twice`);
    positions.set(partition, BigInt(match[2] ?? '0'));
  }
  return positions;
}

/** The `--through` value for `positions`, partitions in order; '' when there are none. */
export function formatPositions(positions: LetterPositions): string {
  return [...positions]
    .sort(([a], [b]) => a - b)
    .map(([partition, offset]) => `${partition}:${offset}`)
    .join(',');
}
