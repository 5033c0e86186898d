import type { z } from 'zod';
import { describe, expect, expectTypeOf, it } from 'vitest';
// The client must not depend on the producer at run time (packages never depend on services),
// so it declares the API's types itself; these checks keep the two copies in agreement.
import type { announcementSchema } from '../../../services/producer/src/ingest/announcement.js';
import type { Accepted as ProducerAccepted } from '../../../services/producer/src/ingest/types.js';
import { PRODUCER_ERRORS, ProducerError } from '../../../services/producer/src/errors.js';
import { RETRIABLE_STATUSES, type Accepted, type Announcement, type ProducerErrorCode } from '../src/index.js';

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
});
