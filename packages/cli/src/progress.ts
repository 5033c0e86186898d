/** Progress of long work (a pass, a bootstrap, a replay), drawn only for a person at a terminal. */
export interface Progress {
  /** Shows `label` with `done` of `total` (a bar), or `done` alone when the total is not known. */
  update(label: string, done: number, total?: number, detail?: string): void;
  /** Removes the bar; later output starts on a clean line. */
  stop(): void;
}

/** Draws nothing: for `--json`, pipes and tests. */
export const silentProgress: Progress = {
  update: () => undefined,
  stop: () => undefined,
};

/** The part of a terminal stream the bar needs. */
export interface ProgressStream {
  write(text: string): boolean;
  readonly columns?: number | undefined;
}

const BAR_WIDTH = 24;

/** One line of progress, formatted: `label [######------] 42% 420/1000 detail`. Exported for tests. */
export function formatProgressLine(label: string, done: number, total?: number, detail?: string, columns = 100): string {
  let line: string;
  if (total === undefined || total <= 0) {
    line = `${label} ${done}`;
  } else {
    const ratio = Math.min(1, Math.max(0, done / total));
    const filled = Math.round(ratio * BAR_WIDTH);
    line = `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total}`;
  }
  if (detail !== undefined && detail !== '') line += ` ${detail}`;
  return line.length > columns - 1 ? line.slice(0, Math.max(0, columns - 2)) + '…' : line;
}

/**
 * A single redrawn line on a terminal (stderr, so stdout keeps only the result), at most ten
 * redraws a second. A tiny renderer rather than a library: one line is all the commands need.
 */
export class TerminalProgress implements Progress {
  readonly #stream: ProgressStream;
  readonly #now: () => number;
  #lastDrawMs = 0;
  #visible = false;

  constructor(stream: ProgressStream, now: () => number = Date.now) {
    this.#stream = stream;
    this.#now = now;
  }

  update(label: string, done: number, total?: number, detail?: string): void {
    const now = this.#now();
    const finished = total !== undefined && done >= total;
    if (this.#visible && !finished && now - this.#lastDrawMs < 100) return;
    this.#lastDrawMs = now;
    // A pseudo-terminal may report 0 columns: fall back to a common width.
    const columns = this.#stream.columns !== undefined && this.#stream.columns >= 20 ? this.#stream.columns : 100;
    this.#stream.write(`\r\x1b[2K${formatProgressLine(label, done, total, detail, columns)}`);
    this.#visible = true;
  }

  stop(): void {
    if (!this.#visible) return;
    this.#stream.write('\r\x1b[2K');
    this.#visible = false;
  }
}
