import { renderTable } from '../table.js';
import type { DeadLetterView } from './letters.js';

/** A column a letter table adds before the message, e.g. whether the letter was replayed. */
export interface LetterColumn {
  readonly header: string;
  readonly cell: (letter: DeadLetterView) => string;
}

/**
 * Letters as a table, one per line: where the letter is, when and by which datacenter it was
 * dead-lettered and why, where the update came from, its key, the caller's column, and the
 * message cut to `messageChars` (messages can be long stack-like texts).
 */
export function renderLetterTable(letters: readonly DeadLetterView[], column: LetterColumn, messageChars: number): string {
  const rows = letters.map((l) => {
    const d = l.deadLetter;
    const message = d === undefined ? '(no dead-letter headers)' : d.message.replace(/\s+/g, ' ');
    return [
      `${l.partition}/${l.offset}`,
      d === undefined || d.atMs === 0 ? '' : new Date(d.atMs).toISOString(),
      d?.datacenter ?? '',
      d?.code ?? '',
      d === undefined ? '' : `${d.originalTopic}/${d.originalPartition}/${d.originalOffset}`,
      l.key,
      column.cell(l),
      message.length > messageChars ? `${message.slice(0, messageChars - 1)}…` : message,
    ];
  });
  return renderTable(
    [
      { header: 'LETTER' },
      { header: 'DEAD-LETTERED AT' },
      { header: 'DATACENTER' },
      { header: 'CODE' },
      { header: 'ORIGINAL (TOPIC/PARTITION/OFFSET)' },
      { header: 'KEY' },
      { header: column.header },
      { header: 'MESSAGE' },
    ],
    rows,
  );
}
