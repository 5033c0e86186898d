import { describe, expect, it } from 'vitest';
import { redactRedisUrl } from '../src/index.js';

describe('redactRedisUrl', () => {
  it('hides the password of the userinfo', () => {
    expect(redactRedisUrl('redis://app:s3cret-pass@redis.internal:6379/2')).toBe('redis://app:***@redis.internal:6379/2');
  });

  it('hides a password given as a query parameter, which ioredis also reads', () => {
    const shown = redactRedisUrl('rediss://redis.internal:6380/0?password=s3cret-pass&family=6');
    expect(shown).not.toContain('s3cret-pass');
    expect(shown).toContain('family=6');
  });
});
