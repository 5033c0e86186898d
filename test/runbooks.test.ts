import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandVariables, parseExpectation, parseRunbook, RUNBOOK_DIR, variablesOf, type Runbook } from './runbooks-harness.js';

// The runbooks' format, checked without servers; test/runbooks.int.test.ts runs their commands.

const FILES = readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith('.md') && f !== 'README.md');
const SECTIONS = ['Before you start', 'Symptoms', 'Diagnose', 'Act', 'Verify', 'Escalate'];

function parseText(text: string): Runbook {
  const file = join(mkdtempSync(join(tmpdir(), 'runbook-format-')), 'r.md');
  writeFileSync(file, text);
  return parseRunbook(file);
}

describe('runbook format', () => {
  it('finds the runbooks and the index links each of them', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(4);
    const index = readFileSync(join(RUNBOOK_DIR, 'README.md'), 'utf8');
    for (const f of FILES) expect(index, `README.md links ${f}`).toContain(`](${f})`);
  });

  describe.each(FILES)('%s', (file) => {
    const runbook = parseRunbook(join(RUNBOOK_DIR, file));
    const commands = runbook.steps.flatMap((s) => (s.kind === 'command' ? [s] : []));

    it('has a title and the sections symptoms, diagnose, act, verify, escalate, in that order', () => {
      expect(runbook.title).toMatch(/^Runbook: /);
      expect(runbook.sections).toEqual(SECTIONS);
    });

    it('runs shardsync commands in diagnose, act and verify, each with an expectation', () => {
      for (const section of ['Diagnose', 'Act', 'Verify']) expect(commands.some((c) => c.section === section), section).toBe(true);
      for (const c of commands) {
        expect(c.command, `line ${c.line}`).toMatch(/^shardsync /);
        expect(c.expectation.exit.length, `line ${c.line}`).toBeGreaterThan(0);
      }
    });

    it('declares every variable it uses, uses every variable it declares, and starts with the topology', () => {
      expect(runbook.variables[0]).toBe('SHARDSYNC_TOPOLOGY');
      const used = new Set(commands.flatMap((c) => [...variablesOf(c.command), ...[...c.expectation.expect, ...c.expectation.expectNo].flatMap(variablesOf)]));
      for (const name of used) expect(runbook.variables, `$${name}`).toContain(name);
      // SHARDSYNC_TOPOLOGY is read by every command without being written in it.
      for (const name of runbook.variables.filter((n) => n !== 'SHARDSYNC_TOPOLOGY')) expect([...used], `${name} is declared`).toContain(name);
    });
  });
});

describe('runbook parser', () => {
  it('reads commands, continuations, indented blocks, hooks and the variables table; skips other blocks and comment lines', () => {
    const runbook = parseText(
      [
        '# Runbook: x',
        '## Before you start',
        '| Variable | Meaning |',
        '|---|---|',
        '| `SHARDSYNC_TOPOLOGY` | file |',
        '| `DATASET` | name |',
        '## Act',
        '```sh',
        '# a note for the reader',
        'shardsync status   # exit 1; expect "a # b; c"',
        "shardsync verify \"$DATASET\" 'k #1' \\",
        '  --deep   # exit 0 or 1; retry up to 2 min; expect no "boom"',
        '```',
        '```text',
        'shardsync not-run   # exit 0',
        '```',
        '1. Restart things.',
        '   <!-- runbook-test: restart -->',
        '   ```sh',
        '   shardsync init   # exit 0',
        '   ```',
      ].join('\n'),
    );
    expect(runbook.variables).toEqual(['SHARDSYNC_TOPOLOGY', 'DATASET']);
    expect(runbook.steps).toEqual([
      { kind: 'command', line: 10, section: 'Act', command: 'shardsync status', expectation: { exit: [1], expect: ['a # b; c'], expectNo: [], retryMs: undefined } },
      {
        kind: 'command',
        line: 11,
        section: 'Act',
        command: "shardsync verify \"$DATASET\" 'k #1' \\\n  --deep",
        expectation: { exit: [0, 1], expect: [], expectNo: ['boom'], retryMs: 120_000 },
      },
      { kind: 'hook', line: 18, section: 'Act', hook: 'restart' },
      { kind: 'command', line: 20, section: 'Act', command: 'shardsync init', expectation: { exit: [0], expect: [], expectNo: [], retryMs: undefined } },
    ]);
  });

  it('refuses a command without an expectation, an unknown clause, or an unclosed block, naming the line', () => {
    expect(() => parseText('# R\n```sh\nshardsync status\n```\n')).toThrow(/r\.md:3: the command has no expectation/);
    expect(() => parseText('# R\n```sh\nshardsync status   # exits 0\n```\n')).toThrow(/r\.md:3: unknown clause "exits 0"/);
    expect(() => parseText('# R\n```sh\nshardsync status   # expect "x"\n```\n')).toThrow(/no "exit N" clause/);
    expect(() => parseText('# R\n```sh\nshardsync status   # exit 0\n')).toThrow(/r\.md:2: the code block is never closed/);
  });

  it('parses expectation clauses and expands variables in expected text', () => {
    expect(parseExpectation('exit 2; expect "\\"x\\": 1"; retry up to 30s')).toEqual({ exit: [2], expect: ['"x": 1'], expectNo: [], retryMs: 30_000 });
    expect(expandVariables('code $CODE in ${DATASET}, not $OTHER', { CODE: 'E1', DATASET: 'models' })).toBe('code E1 in models, not $OTHER');
  });
});
