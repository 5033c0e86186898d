import { describe, expect, it } from 'vitest';
import { BatchFrameError, decodeBatchFrame, encodeBatchFrame } from '../src/index.js';

describe('batch frame', () => {
  it('gives back the description and every body byte, in order, after a round trip', () => {
    const bodies = [Buffer.from([0, 1, 2, 255]), Buffer.alloc(0), Buffer.from('{"not":"json"}')];
    const description = { items: [{ key: 'a/ü', bodyLength: 4 }, { bodyLength: 0 }, { bodyLength: 14 }] };
    const { description: decoded, bodies: rest } = decodeBatchFrame(encodeBatchFrame(description, bodies));
    expect(decoded).toEqual(description);
    expect(rest).toEqual(Buffer.concat(bodies));
  });

  it('refuses a body of another format', () => {
    expect(() => decodeBatchFrame(Buffer.from('{"items":[]}'))).toThrow(BatchFrameError);
    expect(() => decodeBatchFrame(Buffer.from('SSB'))).toThrow(/starts with "SSB1"/);
  });

  it('refuses a description longer than the body that carries it', () => {
    const frame = encodeBatchFrame({ items: [] }, []);
    expect(() => decodeBatchFrame(frame.subarray(0, frame.length - 1))).toThrow(/said to be 12 bytes but the body has only 11/);
  });

  it('refuses a description that is not UTF-8 instead of replacing the bytes', () => {
    const frame = encodeBatchFrame({ items: [{ key: 'ab' }] }, []);
    frame[frame.indexOf('ab')] = 0xff;
    expect(() => decodeBatchFrame(frame)).toThrow(/not valid UTF-8/);
  });

  it('refuses a description that is not JSON, naming the problem', () => {
    const frame = encodeBatchFrame({ items: [] }, []);
    frame.write('x', 8, 'latin1');
    expect(() => decodeBatchFrame(frame)).toThrow(/not valid JSON/);
  });
});
