/**
 * Where a producer persists its clock lease: the upper bound of the physical time its versions
 * may carry. It must be durable and read back what was last written (one writer: the single
 * running process of a producer id).
 */
export interface LeaseStore {
  /** Where the bound is kept, for messages (e.g. `dc-a:bucket/.shardsync/producers/p-0/clock`). */
  readonly location: string;
  /** The bound written last, or undefined if this producer id never wrote one. */
  read(): Promise<number | undefined>;
  /** Replaces the bound; resolves once it is durable. */
  write(boundMs: number): Promise<void>;
}
