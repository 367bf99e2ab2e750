// The codex-spool program with every command (src/program.ts runs it): src/cli.ts runs it as the process
// for every command line but the hot commands' (src/main-submit.ts, src/main-status.ts); tests call it
// in-process where the process boundary is not what they test.
import { type CommandTable, runProgram } from './program.js';

// Each command is loaded only when it runs: `submit` and the Claude hook are on callers' hot paths and
// must not pay for loading the worker (execa, chokidar) or the other commands. In the listing's order.
export const COMMANDS: CommandTable = {
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

/** Runs the command line `argv` (as process.argv: node, script, arguments); output goes through src/util/output.ts. */
export const main = (argv: string[]): Promise<number> => runProgram(argv, COMMANDS);
