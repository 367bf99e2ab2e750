// What every command shares: the --root option and the parsing of option values (errors: util/errors.ts).
import { type Command, Option } from 'commander';
import { loadPolicy, type JobPolicy } from '../spool/policy.js';
import { UNIT_MS, parseDuration, type DurationUnit } from '../util/duration.js';
import { CliError, EXIT } from '../util/errors.js';
import { hasSpool, resolveRootWithSource, spoolLayout, type SpoolLayout } from '../spool/layout.js';

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
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  // An empty --root (an unset shell variable: --root "$SPOOL") is a mistake, not a request for the default root.
  if (root === '') throw new CliError('--root is empty: give the root directory, or leave --root out for the default', EXIT.usage);
  return resolveRootWithSource(root);
}

async function requireSpool(cmd: Command): Promise<void> {
  const { root, source } = rootOf(cmd);
  if (await hasSpool(spoolLayout(root))) return;
  const from = source === 'package' ? "this package's directory" : source;
  throw new CliError(
    `no spool at ${root} (the root, from ${from}): a worker creates it (codex-spool worker --root ${root}); or check --root / $CODEX_SPOOL_ROOT`,
    EXIT.usage,
  );
}

/** Parses a positive integer option, or throws a usage error naming the option. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a positive integer, got "${value}"`, EXIT.usage);
    return n;
  };
}

/** Parses an integer option (any sign), or throws a usage error naming the option. */
export function integer(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n)) throw new CliError(`${name} must be an integer, got "${value}"`, EXIT.usage);
    return n;
  };
}

/**
 * Parses a duration option (util/duration.ts) into ms, above 0 (or 0 too, with `orZero`: an age) and at most
 * `maxMs`, or throws a usage error naming the option. `bareUnit`: what a bare number counts in, when the
 * option's name says it (`--timeout <seconds>`, `--grace-ms`); the bound is given in it. `why`: the reason for the bound.
 */
export function duration(name: string, bareUnit: DurationUnit | null, maxMs = Number.MAX_SAFE_INTEGER, why = '', orZero = false) {
  return (value: string): number => {
    const parsed = parseDuration(value, bareUnit);
    if ('error' in parsed) throw new CliError(`${name}: ${parsed.error}`, EXIT.usage);
    if (!((parsed.ms > 0 || (orZero && parsed.ms === 0)) && parsed.ms <= maxMs)) {
      const unit = bareUnit ?? 'ms';
      throw new CliError(
        `${name} must be ${orZero ? '0 or more' : 'above 0'} and at most ${maxMs / UNIT_MS[unit]} ${unit}${why}, got "${value}"`,
        EXIT.usage,
      );
    }
    return parsed.ms;
  };
}

/** The root's job policy; a policy file that cannot be used is bad input (exit 2): nothing can run under it. */
export function loadPolicyOrFail(root: string): Promise<JobPolicy> {
  return loadPolicy(root).catch((err: Error) => {
    throw new CliError(`bad policy: ${err.message}`, EXIT.usage, { cause: err });
  });
}
