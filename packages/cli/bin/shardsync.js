#!/usr/bin/env node
// Launcher of the `shardsync` command. Runs the built CLI (../dist/main.js) when it exists
// (`npm run build`); otherwise the TypeScript sources through tsx with the "@shardsync/source"
// export condition, so a fresh clone works in development without a build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/main.js', import.meta.url);

if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('shardsync: not built (no packages/cli/dist) and tsx is not installed; run npm install, then npm run build\n');
    process.exit(2);
  }
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@shardsync/source', '--import', tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to this launcher
  // alone (a supervisor) is passed on. Either way the child decides how to stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    process.exit(code ?? (signal === null ? 1 : 128 + (constants.signals[signal] ?? 0)));
  });
}
