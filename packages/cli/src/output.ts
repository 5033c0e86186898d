import type { DescribedError } from './errors.js';
import type { ExitCode } from './exit-codes.js';

/** What a command produced: the data (printed as is with `--json`), its text rendering, and the exit code. */
export interface CommandResult<T = unknown> {
  readonly data: T;
  readonly text: string;
  readonly exitCode: ExitCode;
}

/** The text a finished command prints on stdout. */
export function formatResult(result: CommandResult, json: boolean): string {
  return json ? `${JSON.stringify(result.data, null, 2)}\n` : `${result.text}\n`;
}

/**
 * The text printed for a failed command. With `--json` it is one JSON object
 * `{ "error": code, "message": ..., "hint": ... }` on stdout, so a script parsing stdout always gets
 * JSON; otherwise readable lines on stderr.
 */
export function formatError(command: string, error: DescribedError, json: boolean): { stream: 'stdout' | 'stderr'; text: string } {
  if (json) {
    const body: Record<string, unknown> = { error: error.code, message: error.message, retriable: error.retriable };
    if (error.hint !== undefined) body['hint'] = error.hint;
    return { stream: 'stdout', text: `${JSON.stringify(body, null, 2)}\n` };
  }
  const lines = [`shardsync ${command}: ${error.message} [${error.code}]`];
  if (error.hint !== undefined) lines.push(`  hint: ${error.hint}`);
  return { stream: 'stderr', text: `${lines.join('\n')}\n` };
}
