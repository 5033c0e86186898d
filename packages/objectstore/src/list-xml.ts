/**
 * A parser for the two XML documents a ListObjectsV2 call can answer with: the
 * `ListBucketResult` page and the S3 `Error` document. Pure string scanning, no DOM.
 *
 * Why not the SDK's parser: the AWS SDK deserializes every response through a generic XML
 * parser and then walks the operation's schema, building and converting every field. For
 * listings that is most of the lister's CPU (a reconcile pass lists every key of every
 * datacenter: 100,000 keys cost the SDK about as much CPU as the S3 server spends answering).
 * A listing page has a fixed, flat shape, so a scan for the handful of elements the store
 * reads does the same job at a fraction of the cost. Only text content is read; S3 never
 * puts attributes, CDATA or comments in these elements.
 */

/** One `<Contents>` element: the fields the store reads, with their raw (still quoted) ETag. */
export interface ListedObject {
  readonly key: string;
  /** As sent, quotes included; undefined when the server gave none (s3proxy: directories, writes in progress). */
  readonly etag: string | undefined;
  readonly size: number;
  readonly lastModified: Date | undefined;
}

/** One ListObjectsV2 page. */
export interface ListPageXml {
  readonly contents: ListedObject[];
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  readonly nextContinuationToken: string | undefined;
  /** `url` when the server URL-encoded keys and prefixes (the request's `encoding-type=url`); servers that ignore it send none. */
  readonly encodingType: string | undefined;
}

/** Thrown when a response body is not the document it should be; the message says what is wrong. */
export class ListXmlError extends Error {
  override readonly name: string = 'ListXmlError';
}

/**
 * The document stops before its root element closes: the body was cut short, e.g. a connection
 * that closed mid-body where the response had no length, so the client saw a normal end.
 */
export class TruncatedListXmlError extends ListXmlError {
  override readonly name = 'TruncatedListXmlError';
  /** Node's code for a stream that ended early, so the store classifies it as the network failure it is (retriable). */
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
}

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character data to text: the five predefined entities and numeric character references. */
export function decodeXmlText(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(ENTITY, (whole: string, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (name !== undefined) return NAMED[name] ?? whole;
    const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    if (!Number.isInteger(code) || code < 0 || code > 0x10ffff) throw new ListXmlError(`invalid character reference ${whole}`);
    return String.fromCodePoint(code);
  });
}

/** Tag strings, built once per element name. */
interface Tag {
  readonly name: string;
  readonly open: string;
  readonly close: string;
  readonly empty: string;
}

function tag(name: string): Tag {
  return { name, open: `<${name}>`, close: `</${name}>`, empty: `<${name}/>` };
}

const CONTENTS = tag('Contents');
const COMMON_PREFIXES = tag('CommonPrefixes');
const KEY = tag('Key');
const ETAG = tag('ETag');
const SIZE = tag('Size');
const LAST_MODIFIED = tag('LastModified');
const PREFIX = tag('Prefix');
const IS_TRUNCATED = tag('IsTruncated');
const NEXT_TOKEN = tag('NextContinuationToken');
const ENCODING_TYPE = tag('EncodingType');
const CODE = tag('Code');
const MESSAGE = tag('Message');

/**
 * The decoded text of the first `t` element inside xml[from, to), or undefined when there is none
 * (an empty element, `<t/>` or `<t></t>`, is the empty string).
 */
function textOf(xml: string, t: Tag, from: number, to: number): string | undefined {
  const open = xml.indexOf(t.open, from);
  if (open !== -1 && open < to) {
    const start = open + t.open.length;
    const close = xml.indexOf(t.close, start);
    if (close === -1 || close > to) throw new ListXmlError(`<${t.name}> is not closed`);
    return decodeXmlText(xml.slice(start, close));
  }
  const empty = xml.indexOf(t.empty, from);
  return empty !== -1 && empty < to ? '' : undefined;
}

/** Calls `each(start, end)` for the content of every top-level `t` element of xml. */
function forEachElement(xml: string, t: Tag, each: (start: number, end: number) => void): void {
  let at = xml.indexOf(t.open);
  while (at !== -1) {
    const start = at + t.open.length;
    const end = xml.indexOf(t.close, start);
    if (end === -1) throw new ListXmlError(`<${t.name}> is not closed`);
    each(start, end);
    at = xml.indexOf(t.open, end + t.close.length);
  }
}

/** Content of the document's root element, after checking it is `root`. */
function rootContent(xml: string, root: string): { start: number; end: number } {
  const open = xml.indexOf(`<${root}`);
  const after = open === -1 ? undefined : xml[open + root.length + 1];
  if (after !== '>' && after !== ' ' && after !== '/') {
    const first = /<([A-Za-z][\w:.-]*)/.exec(xml.replace(/<\?[^>]*\?>/g, ''))?.[1];
    throw new ListXmlError(`expected a <${root}> document, got ${first === undefined ? 'no XML element' : `<${first}>`}`);
  }
  const start = xml.indexOf('>', open) + 1;
  if (start === 0) throw new TruncatedListXmlError(`the document is truncated inside its <${root}> tag`);
  if (xml[start - 2] === '/') return { start, end: start }; // <root/>: an empty document
  // Required, not assumed: a body cut between two entries parses as a shorter page, and a last
  // page (IsTruncated false) cut that way would end the listing without the keys after the cut.
  const close = xml.lastIndexOf(`</${root}>`);
  if (close === -1 || close < start) throw new TruncatedListXmlError(`the document is truncated: it ends before </${root}>`);
  return { start, end: close };
}

/** Parses a ListObjectsV2 `ListBucketResult` page. Throws {@link ListXmlError} for anything else. */
export function parseListObjectsV2(xml: string): ListPageXml {
  const root = rootContent(xml, 'ListBucketResult');
  const contents: ListedObject[] = [];
  forEachElement(xml, CONTENTS, (start, end) => {
    const key = textOf(xml, KEY, start, end);
    if (key === undefined) throw new ListXmlError('a <Contents> element has no <Key>');
    const sizeText = textOf(xml, SIZE, start, end);
    const size = sizeText === undefined || sizeText === '' ? 0 : Number(sizeText);
    if (!Number.isSafeInteger(size) || size < 0) throw new ListXmlError(`<Size> of key ${JSON.stringify(key)} is not a byte count: ${JSON.stringify(sizeText)}`);
    const modified = textOf(xml, LAST_MODIFIED, start, end);
    const lastModified = modified === undefined || modified === '' ? undefined : new Date(modified);
    if (lastModified !== undefined && Number.isNaN(lastModified.getTime())) {
      throw new ListXmlError(`<LastModified> of key ${JSON.stringify(key)} is not a date: ${JSON.stringify(modified)}`);
    }
    const etag = textOf(xml, ETAG, start, end);
    contents.push({ key, etag: etag === '' ? undefined : etag, size, lastModified });
  });
  const commonPrefixes: string[] = [];
  forEachElement(xml, COMMON_PREFIXES, (start, end) => {
    const prefix = textOf(xml, PREFIX, start, end);
    if (prefix !== undefined && prefix !== '') commonPrefixes.push(prefix);
  });
  // Neither element occurs inside <Contents> or <CommonPrefixes> (their text cannot hold a raw '<'),
  // so the first occurrence in the document is the top-level one.
  const truncated = textOf(xml, IS_TRUNCATED, root.start, root.end);
  if (truncated !== undefined && truncated !== 'true' && truncated !== 'false') {
    throw new ListXmlError(`<IsTruncated> must be true or false, got ${JSON.stringify(truncated)}`);
  }
  const token = textOf(xml, NEXT_TOKEN, root.start, root.end);
  const encodingType = textOf(xml, ENCODING_TYPE, root.start, root.end);
  return { contents, commonPrefixes, isTruncated: truncated === 'true', nextContinuationToken: token === '' ? undefined : token, encodingType: encodingType === '' ? undefined : encodingType };
}

/** Code and message of an S3 `<Error>` document; both undefined when the body is not one (e.g. empty). */
export function parseS3Error(xml: string): { code: string | undefined; message: string | undefined } {
  const open = xml.indexOf('<Error>');
  if (open === -1) return { code: undefined, message: undefined };
  const end = xml.indexOf('</Error>', open);
  const to = end === -1 ? xml.length : end;
  return { code: textOf(xml, CODE, open, to), message: textOf(xml, MESSAGE, open, to) };
}
