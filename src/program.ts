// The codex-spool program around a table of commands: parses a command line, runs its command and returns
// the exit code. src/main.ts gives it every command; the hot commands' entries (src/main-submit.ts,
// src/main-status.ts) give it their one command, so that their bundles hold nothing else.
import { Command, CommanderError } from 'commander';
import { withRoot } from './cli/kit.js';
import { CliError, EXIT } from './util/errors.js';
import { output } from './util/output.js';
import { packageVersion } from './util/package-files.js';
import { safeLine } from './util/safe-text.js';

/** Each command by name, built when its line runs. */
export type CommandTable = Record<string, () => Promise<Command>>;

/** The commands a command line needs: the one it names first, or all (top-level help, unknown command). */
function commandsFor(commands: CommandTable, argv: string[]): string[] {
  const first = argv[2];
  return first !== undefined && Object.hasOwn(commands, first) ? [first] : Object.keys(commands);
}

/** Runs the command line `argv` (as process.argv: node, script, arguments); output goes through src/util/output.ts. */
export async function runProgram(argv: string[], commands: CommandTable): Promise<number> {
  try {
    const program = withRoot(new Command('codex-spool'), 'optional')
      .description('Hand coding tasks to the Codex CLI fire-and-forget through a file-system spool')
      .version(packageVersion())
      .exitOverride();
    for (const name of commandsFor(commands, argv)) program.addCommand((await commands[name]!()).exitOverride());
    await withOutput(program).parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // --help and --version end here too, with exit code 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    output.err(`codex-spool: ${safeLine(err instanceof Error ? err.message : String(err))}\n`);
    return err instanceof CliError ? err.exitCode : EXIT.failed;
  }
}

/** commander's help and errors through src/util/output.ts, for `cmd` and every command below it (each keeps its own). */
function withOutput(cmd: Command): Command {
  cmd.configureOutput({ writeOut: (text) => output.out(text), writeErr: (text) => output.err(text) });
  for (const sub of cmd.commands) withOutput(sub);
  return cmd;
}
