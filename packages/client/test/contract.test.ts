import type { z } from 'zod';
import { describe, expect, expectTypeOf, it } from 'vitest';
// The client must not depend on the producer at run time (packages never depend on services),
// so it declares the API's types itself; these checks keep the two copies in agreement.
import type { announcementSchema } from '../../../services/producer/src/ingest/announcement.js';
import type { Accepted as ProducerAccepted } from '../../../services/producer/src/ingest/types.js';
import { PRODUCER_ERRORS, ProducerError } from '../../../services/producer/src/errors.js';
import { validateDatasetName, validateObjectKey } from '../../events/src/keys.js';
import { userMetadataProblems } from '../../events/src/validate.js';
import { objectPath, RETRIABLE_STATUSES, type Accepted, type Announcement, type ProducerErrorCode } from '../src/index.js';
import { putFields } from '../src/request.js';

describe('the client agrees with the producer API', () => {
  it('Accepted, Announcement and the error codes have the producer\'s shapes', () => {
    expectTypeOf<Accepted>().toEqualTypeOf<ProducerAccepted>();
    expectTypeOf<ProducerErrorCode>().toEqualTypeOf<keyof typeof PRODUCER_ERRORS>();
    // What the client sends is what the producer's schema accepts, and nothing it would refuse.
    expectTypeOf<Announcement>().toExtend<z.input<typeof announcementSchema>>();
    expectTypeOf<Exclude<z.input<typeof announcementSchema>, Announcement>>().toBeNever();
  });

  it('every status the producer calls retriable is one the client retries', () => {
    const retriable = (Object.keys(PRODUCER_ERRORS) as Array<keyof typeof PRODUCER_ERRORS>).filter((code) => new ProducerError(code, 'x').retriable);
    expect(retriable.length).toBeGreaterThan(0);
    for (const code of retriable) expect(RETRIABLE_STATUSES.has(PRODUCER_ERRORS[code]), code).toBe(true);
  });

  it('user metadata the client lets through is exactly what the producer accepts', () => {
    const long = 'v'.repeat(1500);
    const cases: Array<{ metadata: Record<string, string>; contentType?: string }> = [
      ...['owner', 'a-b', '0day', 'a'.repeat(128), 'a'.repeat(129), 'a.b', 'a_b', 'a~b', "a'b", '-a', 'Owner', 'shardsync-version', ''].map((name) => ({ metadata: { [name]: 'v' } })),
      { metadata: { note: long } },
      { metadata: { note: `${long}${'v'.repeat(40)}` } },
      { metadata: { note: long }, contentType: 'application/octet-stream' },
      // A contentType replaces a "content-type" entry: the two are stored once, so counted once.
      { metadata: { note: 'v'.repeat(1340), 'content-type': 'a'.repeat(150) }, contentType: 'b'.repeat(150) },
    ];
    for (const { metadata, contentType } of cases) {
      const producerAccepts = userMetadataProblems(contentType === undefined ? metadata : { ...metadata, 'content-type': contentType }).length === 0;
      let clientAccepts = true;
      try {
        putFields({ metadata, contentType });
      } catch {
        clientAccepts = false;
      }
      expect(clientAccepts, JSON.stringify({ metadata, contentType }).slice(0, 80)).toBe(producerAccepts);
    }
  });

  it('dataset names the client lets through are exactly the producer\'s, and it refuses the keys the producer finds too long', () => {
    const accepts = (dataset: string, key: string) => {
      try {
        objectPath(dataset, key);
        return true;
      } catch {
        return false;
      }
    };
    for (const dataset of ['models', 'a', '0day', 'a.b_c-d', 'm'.repeat(63), 'm'.repeat(64), 'Models', 'my ds', '-a', '.a', '_a', 'a/b', 'é', '']) {
      expect(accepts(dataset, 'k'), dataset).toBe(validateDatasetName(dataset).ok);
    }
    for (const key of ['k', 'a'.repeat(1024), 'a'.repeat(1025), 'é'.repeat(512), 'é'.repeat(513), `${'a'.repeat(1021)}😀`]) {
      const producer = validateObjectKey(key);
      expect(accepts('ds', key), `${key.length} characters`).toBe(producer.ok || producer.reason !== 'too-long');
    }
  });
});
