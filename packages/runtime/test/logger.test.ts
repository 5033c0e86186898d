import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

/** A logger writing into an array of parsed lines. */
function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

/** What ioredis emits when the server refuses the password: the reply error carries the AUTH command and its arguments (DataHandler.returnError). */
function wrongPassword(): Error {
  return Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), { command: { name: 'auth', args: ['app', 'TopSecretPw123'] } });
}

describe('createLogger', () => {
  it('never writes the arguments of a failed Redis command, which for AUTH are the password', () => {
    const { lines, stream } = capture();
    const logger = createLogger('test', {}, 'info', stream);
    logger.warn({ err: wrongPassword() }, 'redis connection error');
    logger.error({ err: new Error('closing failed', { cause: wrongPassword() }) }, 'wrapped');
    const out = lines.join('');
    expect(out).toContain('WRONGPASS');
    expect(out).toContain('"name":"auth"');
    expect(out).not.toContain('TopSecretPw123');
  });
});
