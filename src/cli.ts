#!/usr/bin/env node
// The codex-spool command line as a process: the program (main.ts), then its exit code. The only place
// that calls process.exit. Built into dist/cli.js, it loads one other bundle (src/build.mjs), found beside
// it: dist/hook.js, dist/submit.js, dist/status.js or dist/program.js.
import { join } from 'node:path';
import { requireCached } from './util/code-cache.js';

// The Claude hook runs before every prompt: as dist/codex-spool-hook (the installed hook) hands it over, and
// as older installs run it (`codex-spool claude hook`, nothing more), it loads neither the program
// (commander) nor, when nothing is new, the digest and zod; with nothing to say it leaves stdout unopened
// (opening it costs a socket's worth of modules).
if (process.argv.length === 4 && process.argv[2] === 'claude' && process.argv[3] === 'hook') {
  const { hookOutputFor } = requireCached<typeof import('./claude/seen.js')>(join(__dirname, 'hook.js'));
  hookOutputFor().then((out) => {
    if (!out) process.exit(0);
    quietOnClosedPipe();
    process.stdout.write(out);
    return exit(0);
  });
} else {
  // A command with a bundle of its own when it is named first, as main.ts would run it alone: parsing and
  // reading the code cache of (or compiling) the whole program is a large share of a short command's start.
  const command = process.argv[2];
  const bundle = command === 'submit' || command === 'status' ? `${command}.js` : 'program.js';
  const { main } = requireCached<typeof import('./main.js')>(join(__dirname, bundle));
  quietOnClosedPipe();
  main(process.argv).then(exit);
}

/**
 * A reader that closes the pipe early (`status --all | head`) chose to read no more: the rest of the output
 * is dropped, nothing is said on stderr, and the command ends with its own exit code (0 for `status`, a
 * failed job's `result` still 1). stdout only: stderr is the worker's log, whose lost reader it outlives
 * (src/commands/worker.ts).
 */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/**
 * Exits once stdout and stderr have handed everything to the OS: to a pipe they are asynchronous, and
 * process.exit() right after a large write would cut the output (a 66 KB result read through a pipe).
 */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
