/**
 * An empty record for user metadata read from a request. Without a prototype, so a name such as
 * `__proto__` becomes an entry the validation refuses (400) instead of an assignment that
 * silently drops it while the request is answered 202.
 */
export function metadataRecord(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}
