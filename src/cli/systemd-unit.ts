// The systemd user unit of the worker: fills the @NAME@ placeholders of systemd/codex-spool.service (pure).
// Every path placeholder in the template sits inside "…"; numbers may stand bare.
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export const UNIT_NAME = 'codex-spool.service';

/** Where systemd looks for the user's own units: $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user. */
export function userUnitDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config'), 'systemd', 'user');
}

/** What to run once the unit is written. */
export const SYSTEMCTL_LINE = 'systemctl --user daemon-reload && systemctl --user enable --now codex-spool';
/** What to run once the unit is rewritten: a running worker keeps its old flags until restarted. */
export const RESTART_LINE = 'systemctl --user daemon-reload && systemctl --user restart codex-spool';

/**
 * The first line of a unit install-service wrote, with the hash of the rest: a unit that has it (and still
 * matches it) is its own to rewrite or remove; any other unit is someone's, replaced only with --force.
 */
const MARKER = '# Written by codex-spool install-service (uninstall-service removes it); edit it and it is yours: sha256:';

/** The unit as written: the marker line, then the rendered unit. */
export function stampUnit(unit: string): string {
  return `${MARKER}${sha256(unit)}\n${unit}`;
}

/** Whose a unit file is: written by install-service and unchanged since, or anyone's ('foreign'). */
export function unitOwner(text: string): 'ours' | 'foreign' {
  const newline = text.indexOf('\n');
  const first = text.slice(0, newline);
  return first.startsWith(MARKER) && first.slice(MARKER.length) === sha256(text.slice(newline + 1)) ? 'ours' : 'foreign';
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Time systemd allows the stop beyond the worker's own 2 × grace (SIGINT → SIGTERM → SIGKILL) to file its jobs. */
const STOP_MARGIN_S = 10;

interface UnitValues {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of dist/cli.js. */
  cli: string;
  /** Absolute codex-spool root. */
  root: string;
  /** Absolute path of the Codex binary. */
  codexBin: string;
  /** The worker's --grace-ms. */
  graceMs: number;
  /** PATH for the service: absolute directories. */
  path: string[];
  /** Further worker arguments (its flags as given to install-service). */
  workerArgs: string[];
  /** Absolute path of an EnvironmentFile= for the service, or null (its line is left out). */
  envFile: string | null;
}

/** TimeoutStopSec for a worker stopping with `graceMs`: both grace periods plus a margin, whole seconds. */
export function stopTimeoutSec(graceMs: number): number {
  return Math.ceil((2 * graceMs) / 1000) + STOP_MARGIN_S;
}

/** Where a placeholder stands: the program of an Exec line, another word of it, an unquoted path setting, or any other setting. */
type UnitContext = 'exec-program' | 'exec-arg' | 'path' | 'setting';

/**
 * A value placed inside "…" in a unit file: C escapes for `\` and `"`, `%%` for a literal `%` (specifiers),
 * and in Exec arguments `$$` for a literal `$` (variable expansion; the program itself is not expanded,
 * and systemd refuses quotes and backslashes in it). Control characters cannot be written at all.
 */
function quoteEscape(value: string, context: UnitContext): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`cannot put a control character in a unit file: ${JSON.stringify(value)}`);
  if (context === 'exec-program' && /["'\\]/.test(value)) {
    throw new Error(`systemd does not run a program whose path has a quote or backslash: ${value}`);
  }
  // A path setting (EnvironmentFile=) is not unquoted by systemd: only specifiers are expanded in it.
  if (context === 'path') return value.replace(/%/g, '%%');
  const escaped = value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%');
  return context === 'exec-arg' ? escaped.replace(/\$/g, '$$$$') : escaped;
}

/**
 * The unit: `template` with every placeholder filled (WORKER_ARGS: each argument a quoted word; a line with
 * ENV_FILE is left out when there is none). Throws on a relative path or a placeholder left unknown.
 */
export function renderUnit(template: string, v: UnitValues): string {
  const paths = [
    ['node', v.node],
    ['cli', v.cli],
    ['root', v.root],
    ['codex binary', v.codexBin],
    ['environment file', v.envFile ?? '/'],
    ...v.path.map((d) => ['PATH entry', d]),
  ];
  for (const [name, p] of paths) {
    if (!isAbsolute(p!)) throw new Error(`${name} must be an absolute path, got "${p}"`);
  }
  if (v.path.some((d) => d.includes(':'))) throw new Error('a PATH entry cannot contain ":"');
  if (!Number.isInteger(v.graceMs) || v.graceMs < 1) throw new Error(`grace must be a positive integer (ms), got ${v.graceMs}`);
  const values: Record<string, string> = {
    NODE: v.node,
    CLI: v.cli,
    ROOT: v.root,
    CODEX_BIN: v.codexBin,
    PATH: v.path.join(':'),
    GRACE_MS: String(v.graceMs),
    TIMEOUT_STOP_SEC: String(stopTimeoutSec(v.graceMs)),
    ...(v.envFile === null ? {} : { ENV_FILE: v.envFile }),
  };
  const lines = template
    .split('\n')
    .filter((line) => v.envFile !== null || !line.includes('@ENV_FILE@'))
    .map((line) =>
      line
        .replace(/@([A-Z_]+)@/g, (whole, name: string, offset: number) => {
          if (name === 'WORKER_ARGS') return v.workerArgs.map((a) => `"${quoteEscape(a, 'exec-arg')}"`).join(' ');
          const value = values[name];
          if (value === undefined) throw new Error(`unknown placeholder ${whole} in the unit template`);
          return quoteEscape(value, contextAt(line, offset));
        })
        .trimEnd(),
    );
  return lines.join('\n');
}

function contextAt(line: string, offset: number): UnitContext {
  if (/^\s*EnvironmentFile=/.test(line)) return 'path';
  if (!/^\s*Exec[A-Za-z]*=/.test(line)) return 'setting';
  return /^\s*Exec[A-Za-z]*=[-@:+!|]*"?$/.test(line.slice(0, offset)) ? 'exec-program' : 'exec-arg';
}

/** Standard directories appended to the service's PATH after node's and Codex's own. */
const BASE_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

/** PATH for the service: the given directories first, then BASE_PATH, without repeats. */
export function servicePath(dirs: string[]): string[] {
  return [...new Set([...dirs, ...BASE_PATH])];
}
