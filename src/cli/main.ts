// The codex-spool program: parses a command line, runs its command and returns the exit code. src/cli.ts
// runs it as the process; tests call it in-process where the process boundary is not what they test.
import { Command, CommanderError } from 'commander';
import { withRoot } from './kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { packageVersion } from '../util/package-files.js';
import { safeLine } from '../util/safe-text.js';

// Each command is loaded only when it runs: `submit` and the Claude hook are on callers' hot paths and
// must not pay for loading the worker (execa, chokidar) or the other commands. In the listing's order.
const COMMANDS: Record<string, () => Promise<Command>> = {
  submit: async () => (await import('../commands/submit.js')).submitCommand(),
  worker: async () => (await import('../commands/worker.js')).workerCommand(),
  status: async () => (await import('../commands/status.js')).statusCommand(),
  result: async () => (await import('../commands/result.js')).resultCommand(),
  wait: async () => (await import('../commands/wait.js')).waitCommand(),
  logs: async () => (await import('../commands/logs.js')).logsCommand(),
  cancel: async () => (await import('../commands/cancel.js')).cancelCommand(),
  retry: async () => (await import('../commands/retry.js')).retryCommand(),
  resume: async () => (await import('../commands/resume.js')).resumeCommand(),
  'install-service': async () => (await import('../commands/install-service.js')).installServiceCommand(),
  'uninstall-service': async () => (await import('../commands/install-service.js')).uninstallServiceCommand(),
  claude: async () => (await import('../commands/claude.js')).claudeCommand(),
  prune: async () => (await import('../commands/prune.js')).pruneCommand(),
  worktree: async () => (await import('../commands/worktree.js')).worktreeCommand(),
  usage: async () => (await import('../commands/usage.js')).usageCommand(),
  doctor: async () => (await import('../commands/doctor.js')).doctorCommand(),
};

/** The commands a command line needs: the one it names first, or all (top-level help, unknown command). */
function commandsFor(argv: string[]): string[] {
  const first = argv[2];
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
}

/** Runs the command line `argv` (as process.argv: node, script, arguments); output goes to process.stdout/stderr. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = withRoot(new Command('codex-spool'), 'optional')
      .description('Hand coding tasks to the Codex CLI fire-and-forget through a file-system spool')
      .version(packageVersion())
      .exitOverride()
      .configureOutput({ outputError: (text, write) => write(text) });
    for (const name of commandsFor(argv)) program.addCommand((await COMMANDS[name]!()).exitOverride());
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // --help and --version end here too, with exit code 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    process.stderr.write(`codex-spool: ${safeLine(err instanceof Error ? err.message : String(err))}\n`);
    return err instanceof CliError ? err.exitCode : EXIT.failed;
  }
}
