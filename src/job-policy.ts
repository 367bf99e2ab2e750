// What a job may ask of Codex. Anyone who can write into the inbox can make Codex run commands as the
// worker's user, so the worker decides: sandbox modes, extra arguments, repos, time limits.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import { isWithin, unsafeOwnership } from './spool-layout.js';
import { DEFAULT_MAX_JOB_BYTES, MAX_JOB_BYTES, MAX_TIMEOUT_S, Sandbox, type JobSpec } from './job-schema.js';

/** `codex exec` arguments a job may pass by default: none of them widens what Codex may touch. */
export const SAFE_ARGS = ['-m', '--model', '--skip-git-repo-check'] as const;
/** Arguments that take a value (the value is the next argument). */
const ARGS_WITH_VALUE = new Set(['-m', '--model', '-c', '--config', '-p', '--profile', '-C', '--cd', '--add-dir', '-i', '--image', '-s', '--sandbox', '--output-schema', '--color', '-o', '--output-last-message']);
/** `-c key=value` keys a job may set by default: model behaviour, not sandbox, approvals or tools. */
export const SAFE_CONFIG_KEYS = [
  'model',
  'model_reasoning_effort',
  'model_reasoning_summary',
  'model_verbosity',
  'hide_agent_reasoning',
  'show_raw_agent_reasoning',
] as const;

/** The policy, in `<root>/codex-spool.config.json` under "policy" (every field optional). */
export const JobPolicy = z.strictObject({
  sandboxes: z.array(Sandbox).default(['read-only', 'workspace-write']).describe('sandbox modes a job may ask for'),
  allowed_args: z.array(z.string()).default([]).describe('further codex exec flags a job may pass (e.g. "--add-dir")'),
  allowed_config_keys: z.array(z.string()).default([]).describe('further -c keys a job may set'),
  repo_prefixes: z
    .array(z.string())
    .nullable()
    .default(null)
    .describe('absolute directories a job repo must be inside; null: any directory the worker user owns'),
  max_timeout_s: z.number().positive().max(MAX_TIMEOUT_S).default(MAX_TIMEOUT_S),
  max_job_bytes: z
    .number()
    .int()
    .positive()
    .max(MAX_JOB_BYTES)
    .default(DEFAULT_MAX_JOB_BYTES)
    .describe('largest job file the worker reads; a larger one is rejected unopened'),
});
export type JobPolicy = z.infer<typeof JobPolicy>;

export const DEFAULT_POLICY: JobPolicy = JobPolicy.parse({});

/** A job outside the policy: which rule, and what to do about it. */
export interface PolicyViolation {
  rule: 'sandbox' | 'args' | 'repo' | 'timeout';
  message: string;
}

/**
 * Reads the policy from `<root>/codex-spool.config.json`; the defaults when there is none. The file must
 * be the worker user's own and writable by no one else (whatever --allow-shared-spool says): whoever can
 * write it decides what every job may do.
 */
export async function loadPolicy(root: string): Promise<JobPolicy> {
  const path = join(root, 'codex-spool.config.json');
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
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
  const parsed = z.object({ policy: JobPolicy.optional() }).safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
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
    return { rule: 'repo', message: `repo ${repo.real} contains the codex-spool root ${repo.spoolRoot}: a job there could rewrite the queue's policy and state` };
  }
  if (isWithin(repo.real, repo.spoolRoot)) {
    return { rule: 'repo', message: `repo ${repo.real} is inside the codex-spool root ${repo.spoolRoot}` };
  }
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

/** Arguments whose value is a directory Codex may work in or write to. */
const PATH_ARGS = new Set(['--add-dir', '-C', '--cd']);

/** The directory values of `args` (pure): what --add-dir and --cd would open to Codex. */
export function pathArgValues(args: string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (!PATH_ARGS.has(flag)) continue;
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value !== undefined) values.push(value);
  }
  return values;
}

/** The first argument the policy does not allow, or null. Positional arguments are refused: the task is the prompt. */
export function forbiddenArg(args: string[], policy: JobPolicy): string | null {
  const allowed = new Set<string>([...SAFE_ARGS, ...policy.allowed_args]);
  const keys = new Set<string>([...SAFE_CONFIG_KEYS, ...policy.allowed_config_keys]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = inline ?? (ARGS_WITH_VALUE.has(flag) ? args[++i] : undefined);
    if (flag === '-c' || flag === '--config') {
      const key = value?.split('=')[0]?.trim();
      if (!key || !keys.has(key)) return `${flag} ${value ?? ''}`.trim();
      continue;
    }
    if (!allowed.has(flag)) return arg;
    if (ARGS_WITH_VALUE.has(flag) && value === undefined) return arg;
  }
  return null;
}
