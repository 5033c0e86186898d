import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long the rest of a refused request's body is read and dropped after the answer, at most:
 * time for the answer to reach the client and for the client to stop sending (nginx's
 * lingering_timeout is 5 s too).
 */
export const LINGER_MS = 5_000;

/**
 * For an answer sent before the request's body was read to its end (401, 403, 409, 413 ...).
 *
 * Closing the connection right after such an answer (`connection: close`) makes the kernel reset
 * it, since the client's unread bytes are still in the receive buffer, and the reset can reach the
 * client before it has read the answer: it then sees `EPIPE` or `ECONNRESET` instead of, say, a
 * 401, and retries a request it should not (measured: 21 of 30 early 401s to a 200 MiB upload
 * were lost that way). So the rest of the body is read and dropped instead, like a lingering close:
 * a client that stops sending once it has the answer ends the exchange; a body that ends within
 * `lingerMs` leaves the connection usable (keep-alive); one still arriving after that is cut off.
 */
export function lingerAfterAnswer(req: IncomingMessage, res: ServerResponse, lingerMs: number = LINGER_MS): void {
  if (req.complete || req.destroyed) return;
  // The handler's reader may have left a 'readable' listener behind (an abandoned async
  // iterator), and while one is attached resume() does not make the stream flow.
  req.removeAllListeners('readable');
  req.resume();
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  res.once('finish', () => {
    if (req.complete) return;
    timer = setTimeout(() => {
      // Checked again: a body that ended meanwhile leaves the connection to its next request.
      if (!req.complete) req.socket.destroy();
    }, lingerMs);
    timer.unref();
  });
  req.once('end', stop);
  req.once('close', stop);
}
