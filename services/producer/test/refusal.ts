import { ProducerError } from '../src/errors.js';

/** The ProducerError `run` throws; fails the test if it returns or throws anything else. */
export function refusal(run: () => unknown): ProducerError {
  try {
    run();
  } catch (err) {
    if (err instanceof ProducerError) return err;
    throw new Error(`expected a ProducerError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a ProducerError, nothing was thrown');
}
