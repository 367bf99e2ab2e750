#!/usr/bin/env node
// The codex-spool command line. The only place that calls process.exit.
import type { Command } from 'commander';

// Each command is loaded only when it runs: `submit` and the Claude hook are on callers' hot paths and
// must not pay for loading the worker (execa, chokidar) or the other commands. In the listing's order.
const COMMANDS: Record<string, () => Promise<Command>> = {
  submit: async () => (await import('./commands/submit.js')).submitCommand(),
  worker: async () => (await import('./commands/worker.js')).workerCommand(),
  status: async () => (await import('./commands/status.js')).statusCommand(),
  result: async () => (await import('./commands/result.js')).resultCommand(),
  wait: async () => (await import('./commands/wait.js')).waitCommand(),
  logs: async () => (await import('./commands/logs.js')).logsCommand(),
  cancel: async () => (await import('./commands/cancel.js')).cancelCommand(),
  retry: async () => (await import('./commands/retry.js')).retryCommand(),
  resume: async () => (await import('./commands/resume.js')).resumeCommand(),
  'install-service': async () => (await import('./commands/install-service.js')).installServiceCommand(),
  'uninstall-service': async () => (await import('./commands/install-service.js')).uninstallServiceCommand(),
  claude: async () => (await import('./commands/claude.js')).claudeCommand(),
  prune: async () => (await import('./commands/prune.js')).pruneCommand(),
  worktree: async () => (await import('./commands/worktree.js')).worktreeCommand(),
  usage: async () => (await import('./commands/usage.js')).usageCommand(),
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand(),
};

/** The commands a command line needs: the one it names first, or all (top-level help, unknown command). */
function commandsFor(argv: string[]): string[] {
  const first = argv[2];
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
}

// The Claude hook runs before every prompt: as installed (`codex-spool claude hook`, nothing more) it loads
// neither commander nor, when nothing is new, the digest and zod, and then leaves stdout untouched (opening
// it costs a socket's worth of modules).
if (process.argv.length === 4 && process.argv[2] === 'claude' && process.argv[3] === 'hook') {
  const out = await (await import('./claude/seen.js')).hookOutputFor();
  if (!out) process.exit(0);
  process.stdout.write(out);
  await exit(0);
}

const [{ Command: CommandClass, CommanderError }, { CliError, EXIT, withRoot }, { packageVersion }, { safeLine }] = await Promise.all([
  import('commander'),
  import('./cli/kit.js'),
  import('./util/package-files.js'),
  import('./util/safe-text.js'),
]);
try {
  const program = withRoot(new CommandClass('codex-spool'), 'optional')
    .description('Hand coding tasks to the Codex CLI fire-and-forget through a file-system spool')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  for (const name of commandsFor(process.argv)) program.addCommand((await COMMANDS[name]!()).exitOverride());
  await program.parseAsync(process.argv);
  await exit(EXIT.ok);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    await exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  process.stderr.write(`codex-spool: ${safeLine(err instanceof Error ? err.message : String(err))}\n`);
  await exit(err instanceof CliError ? err.exitCode : EXIT.failed);
}

/**
 * Exits once stdout and stderr have handed everything to the OS: to a pipe they are asynchronous, and
 * process.exit() right after a large write would cut the output (a 66 KB result read through a pipe).
 */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
  process.exit(code);
}
