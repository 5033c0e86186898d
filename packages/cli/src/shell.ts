/**
 * A word a POSIX shell reads back as exactly `text`, for commands the CLI prints to be pasted.
 * Double quotes as usual (`"models/a.bin"`); single quotes when double quotes would still expand
 * something: `$` and backquotes (S3 tools' `_$folder$` markers), `\`, `"` and `!` (bash history).
 */
export function shellWord(text: string): string {
  if (!/[$`\\"!]/.test(text)) return `"${text}"`;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** As {@link shellWord}, but a plain word (letters, digits, `._:@/+-`) stays bare: option values such as error codes and datacenter names. */
export function shellToken(text: string): string {
  return /^[\w.:@/+-]+$/.test(text) ? text : shellWord(text);
}
