import { createHash, type Hash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import { MAX_PARTS } from './options.js';

/** The two settings that decide how an object of a given size is written, and so its ETag. */
export interface EtagRule {
  readonly singlePutMaxBytes: number;
  readonly partSizeBytes: number;
}

/** How an object of a given size is written under an {@link EtagRule}. */
export type ObjectLayout =
  | { readonly kind: 'single' }
  | { readonly kind: 'multipart'; readonly partCount: number; readonly partSizeBytes: number; readonly lastPartBytes: number };

/**
 * The write layout for `size` bytes: one PutObject when `size <= singlePutMaxBytes`, otherwise
 * multipart with parts of exactly `partSizeBytes` (the last one shorter or equal).
 */
export function objectLayout(size: number, rule: EtagRule): ObjectLayout {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError(`object size must be a non-negative integer, got ${size}`);
  if (size <= rule.singlePutMaxBytes) return { kind: 'single' };
  const partCount = Math.ceil(size / rule.partSizeBytes);
  if (partCount > MAX_PARTS) {
    throw new InvalidArgumentError(
      `an object of ${size} bytes needs ${partCount} parts of ${rule.partSizeBytes} bytes, more than S3's ${MAX_PARTS}; raise partSizeBytes`,
    );
  }
  return { kind: 'multipart', partCount, partSizeBytes: rule.partSizeBytes, lastPartBytes: size - (partCount - 1) * rule.partSizeBytes };
}

/** ETag of a single-request object: the quoted hex MD5 of its body. */
export function singlePartEtag(md5: Uint8Array): string {
  return `"${Buffer.from(md5).toString('hex')}"`;
}

/** ETag of a multipart object: the quoted hex MD5 of the concatenated binary part MD5s, `-` and the part count. */
export function multipartEtag(partMd5s: readonly Uint8Array[]): string {
  if (partMd5s.length === 0) throw new InvalidArgumentError('a multipart ETag needs at least one part MD5');
  const hash = createHash('md5');
  for (const md5 of partMd5s) hash.update(md5);
  return `"${hash.digest('hex')}-${partMd5s.length}"`;
}

/**
 * The ETag every datacenter produces for an object of `size` bytes, given the MD5 of each part of
 * its layout (one MD5 of the whole body for a single-request object). This is the rule the
 * reconciler relies on: equal content written under the same {@link EtagRule} has equal ETags.
 * ETags are returned in their quoted HTTP form, e.g. `"9e107d9d372bb6826bd81d3542a419d6-3"`.
 */
export function expectedEtag(size: number, partMd5s: readonly Uint8Array[], rule: EtagRule): string {
  const layout = objectLayout(size, rule);
  const expectedParts = layout.kind === 'single' ? 1 : layout.partCount;
  if (partMd5s.length !== expectedParts) {
    throw new InvalidArgumentError(`an object of ${size} bytes has ${expectedParts} part(s) under this rule, got ${partMd5s.length} MD5(s)`);
  }
  const [first] = partMd5s;
  return layout.kind === 'single' && first !== undefined ? singlePartEtag(first) : multipartEtag(partMd5s);
}

/**
 * Computes the rule's ETag of a body streamed through `update()`, in O(1) memory: part MD5s at
 * every `partSizeBytes` boundary, plus a whole-body MD5 while the body is still small enough to be
 * a single-request object. For a deep check that re-reads bytes and compares with the listing.
 */
export class EtagHasher {
  readonly #rule: EtagRule;
  #whole: Hash | undefined = createHash('md5');
  #part: Hash = createHash('md5');
  #partBytes = 0;
  #size = 0;
  readonly #partMd5s: Buffer[] = [];

  constructor(rule: EtagRule) {
    this.#rule = rule;
  }

  /** Adds the next bytes of the body. */
  update(chunk: Uint8Array): this {
    this.#size += chunk.byteLength;
    if (this.#whole !== undefined) {
      if (this.#size > this.#rule.singlePutMaxBytes) this.#whole = undefined;
      else this.#whole.update(chunk);
    }
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - offset, this.#rule.partSizeBytes - this.#partBytes);
      this.#part.update(chunk.subarray(offset, offset + take));
      this.#partBytes += take;
      offset += take;
      if (this.#partBytes === this.#rule.partSizeBytes) {
        this.#partMd5s.push(this.#part.digest());
        this.#part = createHash('md5');
        this.#partBytes = 0;
      }
    }
    return this;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The ETag of everything seen; call once, at the end. */
  digest(): string {
    if (this.#whole !== undefined) return singlePartEtag(this.#whole.digest());
    const md5s = this.#partBytes > 0 ? [...this.#partMd5s, this.#part.digest()] : this.#partMd5s;
    return expectedEtag(this.#size, md5s, this.#rule);
  }
}

/** The ETag of a body held in memory, under `rule`. */
export function etagOfBytes(body: Uint8Array, rule: EtagRule): string {
  return new EtagHasher(rule).update(body).digest();
}

const MD5_ETAG = /^"[0-9a-f]{32}(?:-\d+)?"$/i;

/**
 * The form in which two ETags, from two servers or from a server and a value recorded or computed
 * earlier, are compared: quoted ({@link normalizeEtag}), and an MD5 ETag (`"<32 hex>"` or
 * `"<32 hex>-<parts>"`) in lower case, since servers spell the same MD5 in either case. Other
 * ETags are opaque and stay as they are. Compare with this, never with `===`: the stores return
 * each server's own spelling, which conditional requests (`ifMatch`) must send back unchanged.
 */
export function comparableEtag(etag: string): string {
  const quoted = normalizeEtag(etag);
  return MD5_ETAG.test(quoted) ? quoted.toLowerCase() : quoted;
}

/** Whether two ETags name the same content, however each server spells it ({@link comparableEtag}). */
export function sameEtag(a: string, b: string): boolean {
  return comparableEtag(a) === comparableEtag(b);
}

/**
 * Brings an ETag to its quoted form (`"abc"`), the form this package always returns. Servers
 * differ: some list ETags unquoted or XML-escaped (`&quot;`), and weak validators start with `W/`.
 */
export function normalizeEtag(etag: string): string {
  const bare = etag.replace(/^W\//, '').replaceAll('&quot;', '"').replace(/^"+|"+$/g, '');
  return `"${bare}"`;
}
