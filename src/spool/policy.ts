// What a job may ask of Codex. Anyone who can write into the inbox can make Codex run commands as the
// worker's user, so the worker decides: sandbox modes, extra arguments, repos, time limits.
import { open, readlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import '../util/zod.js';
import * as z from 'zod/mini';
import { ifMissing } from '../util/errors.js';
import { REGULAR_FILE_FLAGS } from '../util/regular-file.js';
import { isWithin, unsafeOwnership } from './layout.js';
import { DEFAULT_MAX_JOB_BYTES, MAX_JOB_BYTES, MAX_TIMEOUT_S, Sandbox, describeIssues, submittedBytes, type JobSpec } from './schema.js';

/** `codex exec` arguments a job may pass by default: none of them widens what Codex may touch. */
const SAFE_ARGS = ['-m', '--model', '--skip-git-repo-check'] as const;
/** Arguments that take a value (the value is the next argument). */
const ARGS_WITH_VALUE = new Set([
  '-m',
  '--model',
  '-c',
  '--config',
  '-p',
  '--profile',
  '-C',
  '--cd',
  '--add-dir',
  '-i',
  '--image',
  '-s',
  '--sandbox',
  '--output-schema',
  '--color',
  '-o',
  '--output-last-message',
]);
/** `-c key=value` keys a job may set by default: model behaviour, not sandbox, approvals or tools. */
const SAFE_CONFIG_KEYS = [
  'model',
  'model_reasoning_effort',
  'model_reasoning_summary',
  'model_verbosity',
  'hide_agent_reasoning',
  'show_raw_agent_reasoning',
] as const;

/**
 * Bounds of lock_stale_ms. A lock is refreshed every fifth of it, but at least 1 s apart (proper-lockfile's
 * floor), so the floor leaves three refreshes per stale time; the ceiling keeps recovery within minutes.
 */
const MIN_LOCK_STALE_MS = 3_000;
const MAX_LOCK_STALE_MS = 600_000;

/** The policy, in `<root>/codex-spool.config.json` under "policy" (every field optional). */
export const JobPolicy = z.strictObject({
  sandboxes: z._default(z.array(Sandbox), ['read-only', 'workspace-write']).check(z.describe('sandbox modes a job may ask for')),
  allowed_args: z._default(z.array(z.string()), []).check(z.describe('further codex exec flags a job may pass (e.g. "--add-dir")')),
  allowed_config_keys: z._default(z.array(z.string()), []).check(z.describe('further -c keys a job may set')),
  repo_prefixes: z
    ._default(z.nullable(z.array(z.string())), null)
    .check(z.describe('absolute directories a job repo must be inside; null: any directory the worker user owns')),
  max_timeout_s: z._default(z.number().check(z.positive(), z.lte(MAX_TIMEOUT_S)), MAX_TIMEOUT_S),
  max_job_bytes: z
    ._default(z.int().check(z.positive(), z.lte(MAX_JOB_BYTES)), DEFAULT_MAX_JOB_BYTES)
    .check(z.describe('largest job submitted (inbox file); a larger inbox file is rejected unopened')),
  lock_stale_ms: z
    ._default(z.int().check(z.gte(MIN_LOCK_STALE_MS), z.lte(MAX_LOCK_STALE_MS)), 10_000)
    .check(z.describe("a claim lock not refreshed for this long is stale: a dead worker's job is recovered after it")),
});
export type JobPolicy = z.infer<typeof JobPolicy>;

export const DEFAULT_POLICY: JobPolicy = JobPolicy.parse({});

/**
 * The largest job file of `state` the worker opens. An inbox file is what was submitted: the policy bounds
 * it. A file the worker (or `retry`) queued again also holds the worker's facts (its runs, a reason), which
 * must not push a job that was accepted over the limit: it is read up to the ceiling, and checkPolicy holds
 * its submitted part to the policy.
 */
export const jobReadLimit = (policy: JobPolicy, state: 'inbox' | 'deferred') => (state === 'inbox' ? policy.max_job_bytes : MAX_JOB_BYTES);

/** A job outside the policy: which rule, and what to do about it. */
interface PolicyViolation {
  rule: 'sandbox' | 'args' | 'repo' | 'timeout' | 'size';
  message: string;
}

/**
 * Reads the policy from `<root>/codex-spool.config.json`; the defaults when there is none. The file must
 * be the worker user's own and writable by no one else (whatever --allow-shared-spool says): whoever can
 * write it decides what every job may do.
 */
export async function loadPolicy(root: string): Promise<JobPolicy> {
  const path = join(root, 'codex-spool.config.json');
  // Not waited on if it is a FIFO (O_NONBLOCK): refused below as not a regular file.
  const file = await open(path, REGULAR_FILE_FLAGS).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    if (err.code === 'ELOOP') throw new Error(`${path} is a symbolic link: refusing it (the policy must be a file of its own)`);
    throw err;
  });
  if (file === null) return DEFAULT_POLICY;
  let text: string;
  try {
    const st = await file.stat();
    const problem = unsafeOwnership(st);
    if (!st.isFile() || problem) throw new Error(`refusing ${path}: ${problem ?? 'not a regular file'}`);
    text = await file.readFile('utf8');
  } finally {
    await file.close();
  }
  const parsed = z.object({ policy: z.optional(JobPolicy) }).safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: ${describeIssues(parsed.error)}`);
  return parsed.data.policy ?? DEFAULT_POLICY;
}

/**
 * Checks a job against the policy (pure). `repo.owned`: whether the worker's user owns the repo;
 * `repo.real`: the repo's real path (symlinks resolved), so a link cannot lead outside the prefixes;
 * `repo.spoolRoot`: the codex-spool root's real path, which no job's working tree may contain or lie in
 * (a job that can write the root could rewrite the policy, plant jobs and forge results).
 */
export function checkPolicy(
  spec: JobSpec,
  policy: JobPolicy,
  repo: { real: string; owned: boolean; spoolRoot: string },
): PolicyViolation | null {
  if (isWithin(repo.spoolRoot, repo.real)) {
    return {
      rule: 'repo',
      message: `repo ${repo.real} contains the codex-spool root ${repo.spoolRoot}: a job there could rewrite the queue's policy and state`,
    };
  }
  if (isWithin(repo.real, repo.spoolRoot)) {
    return { rule: 'repo', message: `repo ${repo.real} is inside the codex-spool root ${repo.spoolRoot}` };
  }
  const bytes = submittedBytes(spec);
  if (bytes > policy.max_job_bytes)
    return { rule: 'size', message: `job of ${bytes} bytes is over policy.max_job_bytes ${policy.max_job_bytes}` };
  if (spec.sandbox && !policy.sandboxes.includes(spec.sandbox)) {
    return { rule: 'sandbox', message: `sandbox "${spec.sandbox}" is not allowed (policy.sandboxes: ${policy.sandboxes.join(', ')})` };
  }
  if (spec.timeout_s !== undefined && spec.timeout_s > policy.max_timeout_s) {
    return { rule: 'timeout', message: `timeout_s ${spec.timeout_s} is over policy.max_timeout_s ${policy.max_timeout_s}` };
  }
  const badArg = forbiddenArg(spec.args ?? [], policy);
  if (badArg) return { rule: 'args', message: `argument "${badArg}" is not allowed (policy.allowed_args / allowed_config_keys)` };
  if (policy.repo_prefixes === null) {
    if (!repo.owned) return { rule: 'repo', message: `repo ${spec.repo} is not owned by the worker's user (policy.repo_prefixes: null)` };
  } else if (!policy.repo_prefixes.some((p) => repo.real === p || repo.real.startsWith(p.endsWith('/') ? p : `${p}/`))) {
    return { rule: 'repo', message: `repo ${repo.real} is outside policy.repo_prefixes` };
  }
  return null;
}

/** Arguments whose value is a path Codex may work in or write to. */
const PATH_ARGS = new Set(['--add-dir', '-C', '--cd', '-o', '--output-last-message']);

/** `args` as flag and value pairs (pure): `--flag=value`, `--flag value`, `-f value`; a positional as its own flag. */
function flagsOf(args: string[]): { flag: string; value: string | undefined; arg: string }[] {
  const out: { flag: string; value: string | undefined; arg: string }[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    out.push({ flag, arg, value: eq !== -1 ? arg.slice(eq + 1) : ARGS_WITH_VALUE.has(flag) ? args[++i] : undefined });
  }
  return out;
}

const isConfig = (flag: string) => flag === '-c' || flag === '--config';

/**
 * Every string Codex may read from a `-c key=value` value (pure): each TOML string in it, escapes decoded
 * (`"\u002f"` is "/"), and the raw value with its quotes trimmed, which is what Codex takes when the value
 * does not parse as TOML (`writable_roots=/`).
 */
export function configStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const q = value[i]!;
    if (q !== '"' && q !== "'") continue;
    const close = value.startsWith(q.repeat(3), i) ? q.repeat(3) : q;
    let s = '';
    for (i += close.length; i < value.length && !value.startsWith(close, i); i++) {
      if (q === "'" || value[i] !== '\\') s += value[i];
      else {
        const esc = /^\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|x([0-9a-fA-F]{2})|([btnfre"\\])|[ \t]*\r?\n\s*)/.exec(value.slice(i));
        if (!esc) continue;
        const hex = esc[1] ?? esc[2] ?? esc[3];
        const cp = hex ? Number.parseInt(hex, 16) : undefined;
        s +=
          cp !== undefined
            ? cp <= 0x10ffff
              ? String.fromCodePoint(cp)
              : ''
            : esc[4]
              ? ({ b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\x1b' }[esc[4]] ?? esc[4])
              : '';
        i += esc[0].length - 1;
      }
    }
    i += close.length - 1;
    out.push(close.length === 3 ? s.replace(/^\r?\n/, '') : s);
  }
  out.push(value.trim().replace(/^["']+|["']+$/g, ''));
  return out;
}

/**
 * The paths `args` could open to Codex (pure): the values of --add-dir, --cd and -o, and every string in a
 * `-c` value. Codex reads some config keys as directories it may write (`sandbox_workspace_write.writable_roots`,
 * and newer keys may come), so whatever key the policy allows, none of its strings may name the root.
 */
function pathArgValues(args: string[]): string[] {
  return flagsOf(args).flatMap(({ flag, value }) =>
    value === undefined ? [] : PATH_ARGS.has(flag) ? [value] : isConfig(flag) ? configStrings(value.slice(value.indexOf('=') + 1)) : [],
  );
}

/**
 * The first path of `args` (pathArgValues) that reaches the spool root — contains it, or lies inside it —
 * or null. `~` is the home directory; a relative path is taken from every directory Codex may resolve it
 * against: its --cd (the repo, or `tree`, the job's worktree, which lies in the spool) and the worker's own
 * directory. A path inside `tree` is the job's own. Links are followed as the kernel does, a link before a
 * `..` included, and so is a link to a path that does not exist yet.
 */
export async function pathReachingRoot(
  args: string[],
  dirs: { repo: string; tree: string | null },
  spoolRoot: string,
  home = homedir(),
  cwd = process.cwd(),
): Promise<string | null> {
  const tree = dirs.tree === null ? null : await physicalPath(dirs.tree);
  for (const value of pathArgValues(args)) {
    const path = value === '~' || value.startsWith('~/') ? home + value.slice(1) : value;
    for (const base of isAbsolute(path) ? ['/'] : [dirs.repo, dirs.tree, cwd].filter((d) => d !== null)) {
      const real = await physicalPath(`${base}/${path}`);
      if ((isWithin(spoolRoot, real) || isWithin(real, spoolRoot)) && !(tree !== null && isWithin(real, tree))) return value;
    }
  }
  return null;
}

/** The real path of absolute `path`, one component at a time, following links even to what does not exist. */
async function physicalPath(path: string, hops = 0): Promise<string> {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let real = '/';
  for (const [k, part] of parts.entries()) {
    if (part === '..') {
      real = dirname(real);
      continue;
    }
    const next = join(real, part);
    // Not a link (EINVAL), or not there: taken as written. Any other error (EACCES on the way, EIO, EMFILE)
    // leaves unknown where the path leads, perhaps into the root once it can be read: it surfaces.
    const link = await readlink(next).catch((err: NodeJS.ErrnoException) => (err.code === 'EINVAL' ? null : ifMissing(null)(err)));
    if (link !== null && hops < 40) return physicalPath([resolve(real, link), ...parts.slice(k + 1)].join('/'), hops + 1);
    real = next;
  }
  return real;
}

/**
 * The first argument the policy does not allow, or null. Positional arguments are refused: the task is the
 * prompt. A sandbox asked for by an allowed flag or key (`-s`, `-c sandbox_mode=…`) must be one of
 * policy.sandboxes, as the job's own `sandbox` must.
 */
export function forbiddenArg(args: string[], policy: JobPolicy): string | null {
  const allowed = new Set<string>([...SAFE_ARGS, ...policy.allowed_args]);
  const keys = new Set<string>([...SAFE_CONFIG_KEYS, ...policy.allowed_config_keys]);
  const sandboxAllowed = (v: string[]) => v.every((s) => (policy.sandboxes as string[]).includes(s));
  for (const { flag, value, arg } of flagsOf(args)) {
    if (isConfig(flag)) {
      const eq = value?.indexOf('=') ?? -1;
      const key = eq === -1 ? undefined : value!.slice(0, eq).trim();
      if (!key || !keys.has(key) || (key === 'sandbox_mode' && !sandboxAllowed(configStrings(value!.slice(eq + 1)))))
        return `${flag} ${value ?? ''}`.trim();
      continue;
    }
    if (!allowed.has(flag)) return arg;
    if (ARGS_WITH_VALUE.has(flag) && value === undefined) return arg;
    if ((flag === '-s' || flag === '--sandbox') && !sandboxAllowed([value!])) return `${flag} ${value}`;
  }
  return null;
}
