#!/usr/bin/env node
import { setMaxListeners } from 'node:events';
import { runCli } from './program.js';

// Process wiring only: commands live in src/commands/, the program in src/program.ts.

// The AWS SDK warns on every run that its releases after January 2027 need Node 22; for an
// operator reading command output that is noise (the repository's engines decide the Node
// version). Read when the first S3 client is built, so setting it here is in time.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const controller = new AbortController();
// Every in-flight store request of a pass listens on this one signal; many at once is expected.
setMaxListeners(0, controller.signal);
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write(`\nshardsync: ${signal} received, stopping (again to quit at once)\n`);
  controller.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `shardsync ... | head` closes the pipe early: stop quietly instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
process.exitCode = code;
// Interrupted, the command has said what stays done, and a client may still wait on a server that
// never answers (see CliContext.close): nothing is left worth waiting for.
if (interrupted) process.exit(code);
// Every client is closed by now; should a library still hold a socket or timer, do not hang on it.
setTimeout(() => process.exit(code), 2000).unref();
