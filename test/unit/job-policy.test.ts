import { chmod, chown, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, JobPolicy, checkPolicy, forbiddenArg, loadPolicy } from '../../src/job-policy.js';

const owned = { real: '/home/u/repo', owned: true, spoolRoot: '/home/u/spool-root' };
const job = { repo: '/home/u/repo', task: 't' };

describe('checkPolicy', () => {
  it('allows a plain job on a repo the user owns', () => {
    expect(checkPolicy(job, DEFAULT_POLICY, owned)).toBeNull();
  });
  it('refuses danger-full-access unless the policy lists it', () => {
    expect(checkPolicy({ ...job, sandbox: 'danger-full-access' }, DEFAULT_POLICY, owned)?.rule).toBe('sandbox');
    expect(checkPolicy({ ...job, sandbox: 'workspace-write' }, DEFAULT_POLICY, owned)).toBeNull();
    const open = JobPolicy.parse({ sandboxes: ['danger-full-access'] });
    expect(checkPolicy({ ...job, sandbox: 'danger-full-access' }, open, owned)).toBeNull();
  });
  it('refuses a repo the user does not own, or outside the prefixes (by real path)', () => {
    expect(checkPolicy(job, DEFAULT_POLICY, { ...owned, owned: false })?.rule).toBe('repo');
    const prefixed = JobPolicy.parse({ repo_prefixes: ['/home/u/work'] });
    expect(checkPolicy(job, prefixed, owned)?.rule).toBe('repo');
    expect(checkPolicy(job, prefixed, { ...owned, real: '/home/u/work/a', owned: false })).toBeNull();
    expect(checkPolicy(job, prefixed, { ...owned, real: '/home/u/workshop' })?.rule).toBe('repo');
  });
  it('refuses a repo that contains the spool root or lies inside it, whatever else allows it', () => {
    const open = JobPolicy.parse({ repo_prefixes: ['/'] });
    for (const real of ['/home/u/spool-root', '/home/u', '/', '/home/u/spool-root/spool/inbox', '/home/u/spool-root/x']) {
      expect(checkPolicy(job, open, { ...owned, real })?.rule, real).toBe('repo');
    }
    expect(checkPolicy(job, open, { ...owned, real: '/home/u/spool-root2' })).toBeNull();
  });
  it('caps timeout_s', () => {
    expect(checkPolicy({ ...job, timeout_s: 100 }, JobPolicy.parse({ max_timeout_s: 60 }), owned)?.rule).toBe('timeout');
  });
});

describe('forbiddenArg', () => {
  it('allows the safe flags and -c keys', () => {
    expect(forbiddenArg(['-m', 'gpt-5', '--skip-git-repo-check', '-c', 'model_reasoning_effort=high', '--model=o3'], DEFAULT_POLICY)).toBeNull();
  });
  it('refuses flags that widen what Codex may touch', () => {
    for (const args of [
      ['--dangerously-bypass-approvals-and-sandbox'],
      ['--full-auto'],
      ['-s', 'danger-full-access'],
      ['--cd', '/'],
      ['--add-dir', '/etc'],
      ['-c', 'sandbox_mode="danger-full-access"'],
      ['--config=approval_policy="never"'],
      ['-c'],
      ['-m'],
      ['do this instead'],
    ]) {
      expect(forbiddenArg(args, DEFAULT_POLICY), args.join(' ')).not.toBeNull();
    }
  });
  it('allows what the policy adds', () => {
    const policy = JobPolicy.parse({ allowed_args: ['--add-dir'], allowed_config_keys: ['sandbox_mode'] });
    expect(forbiddenArg(['--add-dir', '/data', '-c', 'sandbox_mode="read-only"'], policy)).toBeNull();
  });
});

describe('loadPolicy', () => {
  it('reads codex-spool.config.json, defaults without it, and refuses an invalid one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-'));
    try {
      expect(await loadPolicy(dir)).toEqual(DEFAULT_POLICY);
      await writeFile(join(dir, 'codex-spool.config.json'), JSON.stringify({ policy: { sandboxes: ['read-only'] } }));
      expect((await loadPolicy(dir)).sandboxes).toEqual(['read-only']);
      await writeFile(join(dir, 'codex-spool.config.json'), JSON.stringify({ policy: { sandboxes: ['yolo'] } }));
      await expect(loadPolicy(dir)).rejects.toThrow(/sandboxes/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
  it('refuses a config that others can write, that another user owns, or that is a symlink', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-'));
    const path = join(dir, 'codex-spool.config.json');
    try {
      await writeFile(path, JSON.stringify({ policy: { sandboxes: ['danger-full-access'] } }), { mode: 0o600 });
      expect((await loadPolicy(dir)).sandboxes).toEqual(['danger-full-access']);
      await chmod(path, 0o666);
      await expect(loadPolicy(dir)).rejects.toThrow(/group- or world-writable/);
      await chmod(path, 0o600);
      await chown(path, 4242, 4242);
      await expect(loadPolicy(dir)).rejects.toThrow(/owned by uid 4242/);
      await rm(path);
      await writeFile(join(dir, 'elsewhere.json'), '{}', { mode: 0o600 });
      await symlink(join(dir, 'elsewhere.json'), path);
      await expect(loadPolicy(dir)).rejects.toThrow(/symbolic link/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
