import { createHash, timingSafeEqual } from 'node:crypto';

export interface TokenGrant {
  /** Name of the client, for logs and idempotency scoping; never the secret. */
  name: string;
  /** Datasets it may write, or '*' for all. */
  datasets: ReadonlySet<string> | '*';
}

interface StoredToken extends TokenGrant {
  digest: Buffer;
}

export class TokenParseError extends Error {
  readonly code = 'SHARDSYNC_CONFIG_INVALID';
  readonly retriable = false;
}

/** Parses `name:token:ds1,ds2;name2:token2:*`. */
export function parseTokens(spec: string): StoredToken[] {
  const entries = spec.split(';').map((s) => s.trim()).filter((s) => s !== '');
  return entries.map((entry, i) => {
    const parts = entry.split(':');
    if (parts.length !== 3 || parts.some((p) => p === '')) {
      throw new TokenParseError(`SHARDSYNC_PRODUCER_TOKENS entry ${i + 1} must look like "name:token:dataset1,dataset2" (or "*" for all datasets)`);
    }
    const [name = '', token = '', datasets = ''] = parts;
    if (token.length < 16) throw new TokenParseError(`SHARDSYNC_PRODUCER_TOKENS entry "${name}": tokens need at least 16 characters`);
    return {
      name,
      digest: digest(token),
      datasets: datasets === '*' ? '*' : new Set(datasets.split(',').map((d) => d.trim())),
    };
  });
}

// Comparing fixed-length digests keeps the comparison constant-time whatever the token length.
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Checks bearer tokens in constant time against every configured token. */
export class TokenAuthenticator {
  readonly #tokens: StoredToken[];

  constructor(tokens: StoredToken[]) {
    this.#tokens = tokens;
  }

  /** The grant of the `Authorization: Bearer ...` header, or undefined when it is missing or wrong. */
  authenticate(authorization: string | undefined): TokenGrant | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined) return undefined;
    const presented = digest(match[1]);
    let found: StoredToken | undefined;
    // Check every token, no early exit, so timing does not reveal which one matched.
    for (const t of this.#tokens) {
      if (timingSafeEqual(t.digest, presented)) found = t;
    }
    return found === undefined ? undefined : { name: found.name, datasets: found.datasets };
  }

  static allows(grant: TokenGrant, dataset: string): boolean {
    return grant.datasets === '*' || grant.datasets.has(dataset);
  }
}
