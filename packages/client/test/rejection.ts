import { ShardsyncClientError } from '../src/index.js';

/** The ShardsyncClientError a call rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ShardsyncClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ShardsyncClientError)) throw new Error(`expected a ShardsyncClientError, got ${String(err)}`);
  return err;
}
