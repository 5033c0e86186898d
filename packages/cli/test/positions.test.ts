import { describe, expect, it } from 'vitest';
import { formatPositions, parsePositions } from '../src/index.js';

describe('--through positions', () => {
  it('reads partition:offset pairs, and prints them back in partition order', () => {
    const positions = parsePositions('2:17, 0:41');
    expect([...positions]).toEqual([
      [2, 17n],
      [0, 41n],
    ]);
    expect(formatPositions(positions)).toBe('0:41,2:17');
    // Offsets beyond 2^53 stay exact.
    expect(formatPositions(parsePositions('1:9007199254740993'))).toBe('1:9007199254740993');
  });

  it.each(['', '0', '0:', ':4', '0:-1', 'a:1', '0:1,,1:2', '0:1.5', '0:1;1:2'])('refuses %j, naming the option and the form expected', (text) => {
    expect(() => parsePositions(text)).toThrow(/^--through: .* is not partition:offset; write what the dry run printed, e\.g\. 0:41,2:17/);
  });

  it('refuses a partition named twice, which could only be a mistake', () => {
    expect(() => parsePositions('0:4,0:9')).toThrow('--through: partition 0 is named twice');
  });

  it('prints nothing for no positions', () => {
    expect(formatPositions(new Map())).toBe('');
  });
});
