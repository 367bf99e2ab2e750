#!/usr/bin/env node
// The codex-spool command line as a process: the program (main.ts), then its exit code. The only place
// that calls process.exit. Built into dist/cli.js, it loads one of two other bundles (src/build.mjs), found
// beside it: dist/hook.js or dist/program.js.
import { join } from 'node:path';
import { requireCached } from './util/code-cache.js';

// The Claude hook runs before every prompt: as installed (`codex-spool claude hook`, nothing more) it loads
// neither the program (commander) nor, when nothing is new, the digest and zod; with nothing to say it
// leaves stdout unopened (opening it costs a socket's worth of modules).
if (process.argv.length === 4 && process.argv[2] === 'claude' && process.argv[3] === 'hook') {
  const { hookOutputFor } = requireCached<typeof import('./claude/seen.js')>(join(__dirname, 'hook.js'));
  hookOutputFor().then((out) => {
    if (!out) process.exit(0);
    quietOnClosedPipe();
    process.stdout.write(out);
    return exit(0);
  });
} else {
  const { main } = requireCached<typeof import('./main.js')>(join(__dirname, 'program.js'));
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
