// What every command shares: the --root option, exit codes, and how errors reach the caller.
import { Command, Option } from 'commander';
import { hasSpool, resolveRootWithSource, spoolLayout, type SpoolLayout } from './spool-layout.js';

/**
 * Exit codes: 0 success; 1 the operation failed (or a job did); 2 bad usage or input; 3 no such job;
 * 4 the job has not finished yet; 124 a wait timed out (as timeout(1)).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, pending: 4, timeout: 124 } as const;

/** An error the user can act on: printed as one line on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/**
 * Adds --root to a command. A command that reads or writes jobs (`spool: 'required'`) refuses a root with
 * no spool: it would otherwise create one, or report `no jobs`, where no worker will ever look. Only the
 * worker creates a spool; the top-level program, the Claude hook, doctor and install-service take any root.
 */
export function withRoot(cmd: Command, spool: 'required' | 'optional' = 'required'): Command {
  cmd.addOption(new Option('--root <dir>', "codex-spool root (default: $CODEX_SPOOL_ROOT, else this package's directory)"));
  if (spool === 'required') cmd.hook('preAction', (_: Command, action: Command) => requireSpool(action));
  return cmd;
}

/** The spool layout that --root names, given before or after the command name. */
export function layoutOf(cmd: Command): SpoolLayout {
  return spoolLayout(rootOf(cmd).root);
}

/** The root --root names (before or after the command name), and where it came from. */
export function rootOf(cmd: Command) {
  return resolveRootWithSource(cmd.optsWithGlobals<{ root?: string }>().root);
}

async function requireSpool(cmd: Command): Promise<void> {
  const { root, source } = rootOf(cmd);
  if (await hasSpool(spoolLayout(root))) return;
  const from = source === 'package' ? "this package's directory" : source;
  throw new CliError(`no spool at ${root} (the root, from ${from}): a worker creates it (codex-spool worker --root ${root}); or check --root / $CODEX_SPOOL_ROOT`, EXIT.usage);
}

/** Parses a positive integer option, or throws a usage error naming the option. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a positive integer, got "${value}"`, EXIT.usage);
    return n;
  };
}

/** Parses an integer option within `min`…`max`, or throws a usage error naming the option and the bounds. */
export function boundedInt(name: string, min: number, max: number, why = '') {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CliError(`${name} must be an integer from ${min} to ${max}${why}, got "${value}"`, EXIT.usage);
    }
    return n;
  };
}
