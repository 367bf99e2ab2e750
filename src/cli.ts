#!/usr/bin/env node
// The codex-spool command line as a process: the program (main.ts), then its exit code. The only place
// that calls process.exit. Built into dist/cli.js, it loads one other bundle (src/build.mjs), found beside
// it: dist/hook.js, dist/submit.js, dist/status.js or dist/program.js.
import { join } from 'node:path';
import { requireCached } from './util/code-cache.js';
import { output } from './util/output.js';

// The Claude hook runs before every prompt: as dist/codex-spool-hook (the installed hook) hands it over, and
// as older installs run it (`codex-spool claude hook`, nothing more), it loads neither the program
// (commander) nor, when nothing is new, the digest and zod.
if (process.argv.length === 4 && process.argv[2] === 'claude' && process.argv[3] === 'hook') {
  const { hookOutputFor } = requireCached<typeof import('./claude/seen.js')>(join(__dirname, 'hook.js'));
  hookOutputFor().then((out) => {
    if (out) output.out(out);
    process.exit(0);
  });
} else {
  // A command with a bundle of its own when it is named first, as main.ts would run it alone: parsing and
  // reading the code cache of (or compiling) the whole program is a large share of a short command's start.
  const command = process.argv[2];
  const bundle = command === 'submit' || command === 'status' ? `${command}.js` : 'program.js';
  const { main } = requireCached<typeof import('./main.js')>(join(__dirname, bundle));
  // Commands print synchronously (src/util/output.ts): nothing is left to flush when the process exits.
  main(process.argv).then((code) => process.exit(code));
}
