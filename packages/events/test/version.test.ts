import { describe, expect, it } from 'vitest';
import { compareVersions, formatVersion, InvalidVersionError, parseVersion, type Version } from '../src/index.js';

const v = (physicalMs: number, logical: number, producerId: string): Version => ({ physicalMs, logical, producerId });

describe('compareVersions', () => {
  it('orders by physical time, then logical counter, then producer id', () => {
    expect(compareVersions(v(2, 0, 'a'), v(1, 9, 'z'))).toBe(1);
    expect(compareVersions(v(1, 1, 'a'), v(1, 2, 'a'))).toBe(-1);
    expect(compareVersions(v(1, 1, 'b'), v(1, 1, 'a'))).toBe(1);
    expect(compareVersions(v(1, 1, 'a'), v(1, 1, 'a'))).toBe(0);
  });
});

describe('formatVersion and parseVersion', () => {
  const versions = [
    v(0, 0, 'p'),
    v(9, 0, 'p'),
    v(10, 0, 'p'),
    v(1_718_000_000_000, 0, 'A'),
    v(1_718_000_000_000, 0, 'a'),
    v(1_718_000_000_000, 0, 'a-2'),
    v(1_718_000_000_000, 2, 'a'),
    v(1_718_000_000_000, 10, 'a'),
    v(1_718_000_000_001, 0, 'a'),
    v(Number.MAX_SAFE_INTEGER, 2 ** 31 - 1, 'z'),
  ];

  it('round-trips every valid version', () => {
    for (const version of versions) expect(parseVersion(formatVersion(version))).toEqual(version);
  });

  it('produces strings that sort as text in the same order as compareVersions', () => {
    const shuffled = [...versions].reverse();
    const byText = [...shuffled].sort((a, b) => (formatVersion(a) < formatVersion(b) ? -1 : 1));
    const byVersion = [...shuffled].sort(compareVersions);
    expect(byText).toEqual(byVersion);
  });

  it('uses fixed-width zero-padded numbers so the S3 metadata value reads naturally', () => {
    expect(formatVersion(v(1_718_000_000_000, 3, 'producer-east-1'))).toBe('0001718000000000.0000000003.producer-east-1');
  });

  it('explains what a malformed string should look like', () => {
    for (const text of ['', '1718000000000.3.p', '0001718000000000.0000000003.', 'x001718000000000.0000000003.p']) {
      expect(() => parseVersion(text)).toThrow(InvalidVersionError);
    }
    expect(() => parseVersion('17.3.p')).toThrow(/expected <16-digit physicalMs>\.<10-digit logical>\.<producerId>/);
  });

  it('rejects numbers out of range and producer ids that would break byte ordering', () => {
    expect(() => parseVersion('9999999999999999.0000000000.p')).toThrow(/physicalMs/);
    expect(() => parseVersion('0000000000000001.9999999999.p')).toThrow(/logical/);
    expect(() => parseVersion('0000000000000001.0000000000.prodücer')).toThrow(/producerId/);
    expect(() => formatVersion(v(-1, 0, 'p'))).toThrow(InvalidVersionError);
    expect(() => formatVersion(v(1.5, 0, 'p'))).toThrow(/physicalMs/);
  });
});
