#!/usr/bin/env node
// The codex-spool command line. The only place that calls process.exit.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, withRoot } from './cli-kit.js';
import { submitCommand } from './commands/submit.js';
import { workerCommand } from './commands/worker.js';
import { statusCommand } from './commands/status.js';
import { resultCommand } from './commands/result.js';
import { waitCommand } from './commands/wait.js';
import { logsCommand } from './commands/logs.js';
import { cancelCommand } from './commands/cancel.js';
import { retryCommand } from './commands/retry.js';
import { resumeCommand } from './commands/resume.js';
import { pruneCommand } from './commands/prune.js';
import { installServiceCommand } from './commands/install-service.js';
import { claudeCommand } from './commands/claude.js';

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const program = withRoot(new Command('codex-spool'))
  .description('Hand coding tasks to the Codex CLI fire-and-forget through a file-system spool')
  .version(packageVersion())
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) })
  .addCommand(submitCommand().exitOverride())
  .addCommand(workerCommand().exitOverride())
  .addCommand(statusCommand().exitOverride())
  .addCommand(resultCommand().exitOverride())
  .addCommand(waitCommand().exitOverride())
  .addCommand(logsCommand().exitOverride())
  .addCommand(cancelCommand().exitOverride())
  .addCommand(retryCommand().exitOverride())
  .addCommand(resumeCommand().exitOverride())
  .addCommand(installServiceCommand().exitOverride())
  .addCommand(claudeCommand().exitOverride())
  .addCommand(pruneCommand().exitOverride());

try {
  await program.parseAsync(process.argv);
  process.exit(EXIT.ok);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  }
  process.stderr.write(`codex-spool: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof CliError ? err.exitCode : EXIT.failed);
}
