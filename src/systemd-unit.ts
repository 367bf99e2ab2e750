// The systemd user unit of the worker: fills the @NAME@ placeholders of systemd/codex-spool.service (pure).
// Every path placeholder in the template sits inside "…"; numbers may stand bare.
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

/** Time systemd allows the stop beyond the worker's own 2 × grace (SIGINT → SIGTERM → SIGKILL) to file its jobs. */
export const STOP_MARGIN_S = 10;

export interface UnitValues {
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
}

/** TimeoutStopSec for a worker stopping with `graceMs`: both grace periods plus a margin, whole seconds. */
export function stopTimeoutSec(graceMs: number): number {
  return Math.ceil((2 * graceMs) / 1000) + STOP_MARGIN_S;
}

/** Where a placeholder stands: the program of an Exec line, another word of it, or any other setting. */
export type UnitContext = 'exec-program' | 'exec-arg' | 'setting';

/**
 * A value placed inside "…" in a unit file: C escapes for `\` and `"`, `%%` for a literal `%` (specifiers),
 * and in Exec arguments `$$` for a literal `$` (variable expansion; the program itself is not expanded,
 * and systemd refuses quotes and backslashes in it). Control characters cannot be written at all.
 */
export function quoteEscape(value: string, context: UnitContext): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`cannot put a control character in a unit file: ${JSON.stringify(value)}`);
  if (context === 'exec-program' && /["'\\]/.test(value)) {
    throw new Error(`systemd does not run a program whose path has a quote or backslash: ${value}`);
  }
  const escaped = value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%');
  return context === 'exec-arg' ? escaped.replace(/\$/g, '$$$$') : escaped;
}

/** The unit: `template` with every placeholder filled. Throws on a relative path or a placeholder left unknown. */
export function renderUnit(template: string, v: UnitValues): string {
  for (const [name, p] of [['node', v.node], ['cli', v.cli], ['root', v.root], ['codex binary', v.codexBin], ...v.path.map((d) => ['PATH entry', d])]) {
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
  };
  const lines = template.split('\n').map((line) =>
    line.replace(/@([A-Z_]+)@/g, (whole, name: string, offset: number) => {
      const value = values[name];
      if (value === undefined) throw new Error(`unknown placeholder ${whole} in the unit template`);
      return quoteEscape(value, contextAt(line, offset));
    }),
  );
  return lines.join('\n');
}

function contextAt(line: string, offset: number): UnitContext {
  if (!/^\s*Exec[A-Za-z]*=/.test(line)) return 'setting';
  return /^\s*Exec[A-Za-z]*=[-@:+!|]*"?$/.test(line.slice(0, offset)) ? 'exec-program' : 'exec-arg';
}

/** Standard directories appended to the service's PATH after node's and Codex's own. */
export const BASE_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

/** PATH for the service: the given directories first, then BASE_PATH, without repeats. */
export function servicePath(dirs: string[]): string[] {
  return [...new Set([...dirs, ...BASE_PATH])];
}
