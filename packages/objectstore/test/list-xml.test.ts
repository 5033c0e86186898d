import { describe, expect, test } from 'vitest';
import { decodeXmlText, ListXmlError, parseListObjectsV2, parseS3Error } from '../src/list-xml.js';

const page = (inner: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</ListBucketResult>`;

const contents = (key: string, etag = '&quot;0cc175b9c0f1b6a831c399e269772661&quot;', size = 1): string =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-26T10:00:00.000Z</LastModified><ETag>${etag}</ETag><Size>${size}</Size><Owner><ID>o</ID><DisplayName>Key</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

describe('parseListObjectsV2', () => {
  test('reads every object with its key, quoted ETag, size and time, and the truncation token', () => {
    const xml = page(
      `<Name>b</Name><Prefix>ds/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>` +
        contents('ds/a', '&quot;abc&quot;', 10) +
        contents('ds/b', '"def-2"', 20) +
        `<NextContinuationToken>tok/en==</NextContinuationToken><StartAfter>ds/</StartAfter>`,
    );
    expect(parseListObjectsV2(xml)).toEqual({
      contents: [
        { key: 'ds/a', etag: '"abc"', size: 10, lastModified: new Date('2026-11-26T10:00:00.000Z') },
        { key: 'ds/b', etag: '"def-2"', size: 20, lastModified: new Date('2026-11-26T10:00:00.000Z') },
      ],
      commonPrefixes: [],
      isTruncated: true,
      nextContinuationToken: 'tok/en==',
    });
  });

  test('decodes entities and character references in keys, prefixes and tokens', () => {
    const xml = page(
      `<IsTruncated>false</IsTruncated>${contents('ds/a&amp;b/&lt;x&gt;/&quot;q&quot;&apos;/&#252;&#x1F600;')}` +
        `<CommonPrefixes><Prefix>ds/caf&#233; &amp; co/</Prefix></CommonPrefixes>`,
    );
    const parsed = parseListObjectsV2(xml);
    expect(parsed.contents.map((c) => c.key)).toEqual([`ds/a&b/<x>/"q"'/ü😀`]);
    expect(parsed.commonPrefixes).toEqual(['ds/café & co/']);
    expect(parsed.isTruncated).toBe(false);
    expect(parsed.nextContinuationToken).toBeUndefined();
  });

  test('a delimited page yields its folders, and the top-level Prefix is not mistaken for one', () => {
    const xml = page(
      `<Prefix>ds/</Prefix><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>${contents('ds/top')}` +
        `<CommonPrefixes><Prefix>ds/a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>ds/b/</Prefix></CommonPrefixes>`,
    );
    const parsed = parseListObjectsV2(xml);
    expect(parsed.commonPrefixes).toEqual(['ds/a/', 'ds/b/']);
    expect(parsed.contents.map((c) => c.key)).toEqual(['ds/top']);
  });

  test('pretty-printed XML with whitespace between elements parses the same', () => {
    const xml = page(`\n  <IsTruncated>true</IsTruncated>\n  <Contents>\n    <Key>k</Key>\n    <ETag>"e"</ETag>\n    <Size>5</Size>\n  </Contents>\n  <NextContinuationToken>t</NextContinuationToken>\n`);
    expect(parseListObjectsV2(xml)).toEqual({
      contents: [{ key: 'k', etag: '"e"', size: 5, lastModified: undefined }],
      commonPrefixes: [],
      isTruncated: true,
      nextContinuationToken: 't',
    });
  });

  test('an entry without an ETag (or with an empty one) has none, as s3proxy lists directories', () => {
    const xml = page(`<IsTruncated>false</IsTruncated><Contents><Key>ds/</Key><Size>4096</Size></Contents><Contents><Key>ds/x</Key><ETag/><Size>0</Size></Contents>`);
    expect(parseListObjectsV2(xml).contents.map((c) => c.etag)).toEqual([undefined, undefined]);
  });

  test('an empty listing has no contents and is not truncated', () => {
    expect(parseListObjectsV2(page('<Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>'))).toEqual({
      contents: [],
      commonPrefixes: [],
      isTruncated: false,
      nextContinuationToken: undefined,
    });
    expect(parseListObjectsV2('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>').contents).toEqual([]);
  });

  test.each([
    ['another document', '<Error><Code>NoSuchBucket</Code></Error>', /expected a <ListBucketResult> document, got <Error>/],
    ['an empty body', '', /expected a <ListBucketResult> document, got no XML element/],
    ['a Contents without a Key', page('<Contents><Size>1</Size></Contents>'), /<Contents> element has no <Key>/],
    ['an unclosed Contents', page('<Contents><Key>a</Key>'), /<Contents> is not closed/],
    ['a size that is not a number', page(contents('a', '"e"', Number.NaN)), /<Size> of key "a" is not a byte count/],
    ['a truncation flag that is not a boolean', page('<IsTruncated>maybe</IsTruncated>'), /<IsTruncated> must be true or false/],
    ['a character reference out of range', page(contents('&#x110000;')), /invalid character reference/],
    // A body cut short at an element boundary (a connection closed mid-body, where the response
    // had no length) must not read as a complete last page: the keys after the cut would vanish.
    ['a page that stops before its root closes', page(`<IsTruncated>false</IsTruncated>${contents('a')}${contents('b')}`).replace(/<Contents><Key>b<\/Key>.*$/, ''), /truncated/],
  ])('rejects %s with a message that says what is wrong', (_name, xml, message) => {
    expect(() => parseListObjectsV2(xml)).toThrow(ListXmlError);
    expect(() => parseListObjectsV2(xml)).toThrow(message);
  });
});

describe('parseS3Error', () => {
  test('reads the code and message of an S3 error document', () => {
    expect(parseS3Error('<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>The bucket &quot;b&quot; does not exist</Message></Error>')).toEqual({
      code: 'NoSuchBucket',
      message: 'The bucket "b" does not exist',
    });
  });

  test('a body that is no error document has neither', () => {
    expect(parseS3Error('')).toEqual({ code: undefined, message: undefined });
  });
});

describe('decodeXmlText', () => {
  test('leaves text without entities as it is and leaves unknown named entities alone', () => {
    expect(decodeXmlText('plain/key')).toBe('plain/key');
    expect(decodeXmlText('a&nbsp;b')).toBe('a&nbsp;b');
  });
});
