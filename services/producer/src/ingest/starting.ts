import { ProducerError } from '../errors.js';
import type { Accepted, AnnounceRequest, DeleteRequest, Ingest, PutRequest } from './types.js';

/**
 * The ingest while the producer starts: the HTTP server listens before the clock lease is taken
 * (a second process of the same producer id that cannot bind its port must fail before it takes
 * the lease from the one that runs), so requests that arrive in between get 503 until the real
 * ingest is handed over.
 */
export class StartingIngest implements Ingest {
  #ingest: Ingest | undefined;

  /** Hands requests to `ingest` from now on. */
  started(ingest: Ingest): void {
    this.#ingest = ingest;
  }

  /** For readiness: throws until started. */
  check(): void {
    this.#current();
  }

  put(request: PutRequest): Promise<Accepted> {
    return this.#current().put(request);
  }

  delete(request: DeleteRequest): Promise<Accepted> {
    return this.#current().delete(request);
  }

  announce(request: AnnounceRequest): Promise<Accepted> {
    return this.#current().announce(request);
  }

  #current(): Ingest {
    if (this.#ingest === undefined) throw new ProducerError('SHARDSYNC_UNAVAILABLE', 'the producer is starting; retry shortly');
    return this.#ingest;
  }
}
