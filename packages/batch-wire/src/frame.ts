/**
 * The binary framing of a `POST /v1/batch` request (content type {@link BATCH_FRAME_CONTENT_TYPE}):
 *
 * ```
 * "SSB1"            4 bytes, the format and its version
 * J                 uint32, big-endian: length of the description
 * description       J bytes of UTF-8 JSON
 * bodies            every remaining byte: the bodies the description announces, back to back
 * ```
 *
 * The JSON form carries each body in base64, which costs both ends a third more bytes and an
 * encode and a decode per update; here bodies travel as they are and only the short item
 * descriptions are JSON. What the description says about the bodies (which item owns which
 * bytes) is the reader's to check: this module only splits the frame.
 */

export const BATCH_FRAME_CONTENT_TYPE = 'application/vnd.shardsync.batch-v1';

/**
 * The answer header by which a producer says which forms of `POST /v1/batch` it reads (value
 * {@link BATCH_FORMATS}), on every answer to that route, errors included. Producers older than the
 * binary form never send it: a 400 without it to a binary request comes from one of them, and the
 * client sends the same items again in the JSON form (a rolling upgrade needs no client setting).
 */
export const BATCH_FORMATS_HEADER = 'x-shardsync-batch-formats';
export const BATCH_FORMATS = 'json, binary';

const MAGIC = Buffer.from('SSB1', 'latin1');
// Fatal: a key or dataset with a byte that is not UTF-8 is refused, never turned into U+FFFD.
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const PREFIX_BYTES = MAGIC.length + 4;

/** A frame that cannot be split: too short, another format, a description that is not JSON. */
export class BatchFrameError extends Error {
  readonly code = 'SHARDSYNC_BATCH_FRAME_INVALID';
  readonly retriable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchFrameError';
  }
}

/** A frame of `description` (any JSON value) followed by `bodies`, in that order. */
export function encodeBatchFrame(description: unknown, bodies: readonly Uint8Array[]): Buffer {
  const json = Buffer.from(JSON.stringify(description), 'utf8');
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(json.length, MAGIC.length);
  return Buffer.concat([prefix, json, ...bodies]);
}

/** A frame split into its parsed description and the bytes after it (a view, not a copy). */
export function decodeBatchFrame(frame: Buffer): { description: unknown; bodies: Buffer } {
  if (frame.length < PREFIX_BYTES || !frame.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BatchFrameError(`a ${BATCH_FRAME_CONTENT_TYPE} body starts with "SSB1" and the description's length (${PREFIX_BYTES} bytes)`);
  }
  const length = frame.readUInt32BE(MAGIC.length);
  const end = PREFIX_BYTES + length;
  if (end > frame.length) {
    throw new BatchFrameError(`the description is said to be ${length} bytes but the body has only ${frame.length - PREFIX_BYTES} after the prefix`);
  }
  let text: string;
  try {
    text = UTF8.decode(frame.subarray(PREFIX_BYTES, end));
  } catch (cause) {
    throw new BatchFrameError('the description is not valid UTF-8', { cause });
  }
  let description: unknown;
  try {
    description = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new BatchFrameError(`the description is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return { description, bodies: frame.subarray(end) };
}
