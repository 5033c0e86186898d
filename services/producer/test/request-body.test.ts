import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../src/http/request-body.js';
import { refusal } from './refusal.js';

describe('parseJsonBody', () => {
  it('reads UTF-8 JSON, multi-byte characters included', () => {
    expect(parseJsonBody(Buffer.from('{"key":"données/ü"}', 'utf8'))).toEqual({ key: 'données/ü' });
  });

  it('refuses a byte that is not UTF-8 with a 400 instead of replacing it', () => {
    const body = Buffer.concat([Buffer.from('{"key":"a'), Buffer.from([0xff]), Buffer.from('"}')]);
    const err = refusal(() => parseJsonBody(body));
    expect({ code: err.code, status: err.status }).toEqual({ code: 'SHARDSYNC_INVALID_REQUEST', status: 400 });
    expect(err.message).toBe('the body is not valid UTF-8');
  });

  it('refuses malformed JSON with a 400 saying so', () => {
    const err = refusal(() => parseJsonBody(Buffer.from('{"items": [')));
    expect({ code: err.code, status: err.status }).toEqual({ code: 'SHARDSYNC_INVALID_REQUEST', status: 400 });
    expect(err.message).toMatch(/^the body is not valid JSON/);
  });
});
