#!/usr/bin/env node
// The codex-spool command line as a process: the program (cli/main.ts), then its exit code. The only place
// that calls process.exit.
import { main } from './cli/main.js';

await exit(await main(process.argv));

/**
 * Exits once stdout and stderr have handed everything to the OS: to a pipe they are asynchronous, and
 * process.exit() right after a large write would cut the output (a 66 KB result read through a pipe).
 */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
