import type { Type } from 'avsc';
import { IncompatibleSchemaError } from './errors.js';
import { compileSchema, readCurrentSchema, readHistoricSchemas, schemaFingerprint } from './schema.js';

/** How to read bytes written with one writer schema. */
export interface WriterSchema {
  readonly fingerprint: string;
  readonly label: string;
  readonly type: Type;
  /** Undefined when the writer schema is the reader schema (no resolution needed). */
  readonly resolver: ReturnType<Type['createResolver']> | undefined;
}

/**
 * The writer schemas a consumer can read, by fingerprint, each with a resolver to the current
 * reader schema. Resolvers are built when a schema is registered, so an incompatible schema
 * fails at start-up rather than on the first message that uses it.
 */
export class SchemaRegistry {
  /** The schema decoded events are resolved to, and that {@link encodeShardUpdate} writes. */
  readonly reader: Type;
  readonly readerFingerprint: string;
  readonly #writers = new Map<string, WriterSchema>();

  constructor(readerSchema: object | Type, label = 'reader schema') {
    this.reader = isType(readerSchema) ? readerSchema : compileSchema(readerSchema, label);
    this.readerFingerprint = schemaFingerprint(this.reader);
    this.register(this.reader, label);
  }

  /**
   * Adds a writer schema and returns its fingerprint. Registering the same schema twice is a
   * no-op. Throws {@link IncompatibleSchemaError} if the reader schema cannot read it (e.g. a
   * field was added without a default).
   */
  register(writerSchema: object | Type, label = 'writer schema'): string {
    const type = isType(writerSchema) ? writerSchema : compileSchema(writerSchema, label);
    const fingerprint = schemaFingerprint(type);
    if (this.#writers.has(fingerprint)) return fingerprint;
    let resolver: WriterSchema['resolver'];
    if (fingerprint !== this.readerFingerprint) {
      try {
        resolver = this.reader.createResolver(type);
      } catch (err) {
        throw new IncompatibleSchemaError(
          `${label} (${fingerprint}) cannot be read with the current schema: ${(err as Error).message}; new fields need defaults and removed fields must have had them`,
          err,
        );
      }
    }
    this.#writers.set(fingerprint, { fingerprint, label, type, resolver });
    return fingerprint;
  }

  /** The writer schema with this fingerprint, or undefined if this build does not know it. */
  lookup(fingerprint: string): WriterSchema | undefined {
    return this.#writers.get(fingerprint);
  }

  /** Fingerprints of every known writer schema. */
  get fingerprints(): string[] {
    return [...this.#writers.keys()];
  }
}

function isType(value: object | Type): value is Type {
  return typeof (value as Partial<Type>).fingerprint === 'function';
}

let bundled: SchemaRegistry | undefined;

/**
 * The registry of this package's own schemas: the current `schema/ShardUpdate.avsc` as reader,
 * plus every released schema in `schema/history/`. Loaded from disk once, then shared.
 */
export function bundledSchemaRegistry(): SchemaRegistry {
  if (bundled === undefined) {
    const current = readCurrentSchema();
    const registry = new SchemaRegistry(current.schema, current.label);
    for (const historic of readHistoricSchemas()) registry.register(historic.schema, historic.label);
    bundled = registry;
  }
  return bundled;
}
