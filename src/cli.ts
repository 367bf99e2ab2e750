#!/usr/bin/env node
// The codex-spool command line as a process: the program (main.ts), then its exit code. The only place
// that calls process.exit.

// The Claude hook runs before every prompt: as installed (`codex-spool claude hook`, nothing more) it loads
// neither the program (commander) nor, when nothing is new, the digest and zod; with nothing to say it
// leaves stdout unopened (opening it costs a socket's worth of modules).
if (process.argv.length === 4 && process.argv[2] === 'claude' && process.argv[3] === 'hook') {
  const out = await (await import('./claude/seen.js')).hookOutputFor();
  if (!out) process.exit(0);
  process.stdout.write(out);
  await exit(0);
}

await exit(await (await import('./main.js')).main(process.argv));

/**
 * Exits once stdout and stderr have handed everything to the OS: to a pipe they are asynchronous, and
 * process.exit() right after a large write would cut the output (a 66 KB result read through a pipe).
 */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
