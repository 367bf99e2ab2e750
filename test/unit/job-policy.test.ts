import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobFileText } from '../../src/spool/schema.js';
import {
  DEFAULT_POLICY,
  JobPolicy,
  checkPolicy,
  configStrings,
  forbiddenArg,
  loadPolicy,
  pathReachingRoot,
} from '../../src/spool/policy.js';

const owned = { real: '/home/u/repo', owned: true, spoolRoot: '/home/u/spool-root' };
const job = { repo: '/home/u/repo', task: 't' };

describe('checkPolicy', () => {
  it('allows a plain job on a repo the user owns', () => {
    expect(checkPolicy(job, DEFAULT_POLICY, owned)).toBeNull();
  });
  it('bounds the job as submitted by max_job_bytes, whatever facts the worker added when it queued it again', () => {
    const policy = JobPolicy.parse({ max_job_bytes: 300 });
    const facts = fc.record(
      {
        queued_at: fc.nat(),
        attempts: fc.nat(),
        reason: fc.string({ maxLength: 300 }),
        runs: fc.array(fc.string({ maxLength: 40 }), { maxLength: 50 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 400, unit: 'binary' }), facts, (task, added) => {
        const spec = { repo: job.repo, task };
        const fits = Buffer.byteLength(jobFileText(spec)) <= 300; // the inbox file submit would write
        expect(checkPolicy(spec, policy, owned)?.rule ?? null).toBe(fits ? null : 'size');
        expect(checkPolicy({ ...spec, ...added } as typeof spec, policy, owned)?.rule ?? null).toBe(fits ? null : 'size');
      }),
    );
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
    expect(
      forbiddenArg(['-m', 'gpt-5', '--skip-git-repo-check', '-c', 'model_reasoning_effort=high', '--model=o3'], DEFAULT_POLICY),
    ).toBeNull();
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

describe('a sandbox asked for through an allowed flag or -c key', () => {
  it('must be one the policy lists, in any spelling', () => {
    const policy = JobPolicy.parse({ allowed_args: ['-s', '--sandbox'], allowed_config_keys: ['sandbox_mode'] });
    for (const args of [
      ['-s', 'danger-full-access'],
      ['--sandbox=danger-full-access'],
      ['-c', 'sandbox_mode="danger-full-access"'],
      ['-c', "sandbox_mode='danger-full-access'"],
      ['-c', 'sandbox_mode=danger-full-access'],
      ['-c', 'sandbox_mode="danger\\u002dfull-access"'],
      ['--config= sandbox_mode = "danger-full-access"'],
    ]) {
      expect(forbiddenArg(args, policy), args.join(' ')).not.toBeNull();
    }
    for (const args of [
      ['-s', 'read-only'],
      ['--sandbox=workspace-write'],
      ['-c', 'sandbox_mode="workspace-write"'],
      ['-c', "sandbox_mode='read-only'"],
    ]) {
      expect(forbiddenArg(args, policy), args.join(' ')).toBeNull();
    }
    expect(forbiddenArg(['-c', 'sandbox_mode="danger-full-access"'], { ...policy, sandboxes: ['danger-full-access'] })).toBeNull();
  });
});

describe('configStrings: what Codex may read out of a -c value', () => {
  it('every TOML string, decoded, and the raw value Codex falls back to', () => {
    expect(configStrings(`["/a", '/b']`)).toEqual(['/a', '/b', `["/a", '/b']`]);
    expect(configStrings('"\\u002Fetc\\t"')).toContain('/etc\t');
    expect(configStrings('"\\U0000002f"')).toContain('/');
    expect(configStrings('"""\n/x"""')).toContain('/x');
    expect(configStrings("'''/y'''")).toContain('/y');
    expect(configStrings(' /z ')).toEqual(['/z']);
    expect(configStrings('"/q')).toContain('/q');
  });
});

describe('paths an allowed argument opens may not reach the spool root', () => {
  let base: string, root: string, repo: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'reach-'));
    [root, repo] = [join(base, 'root'), join(base, 'repo')];
    await mkdir(join(root, 'spool'), { recursive: true });
    await mkdir(join(repo, 'sub'), { recursive: true });
    await symlink(join(root, 'spool'), join(repo, 'to-spool'));
    await symlink(join(root, 'spool', 'not-yet'), join(repo, 'dangling'));
  });
  afterAll(() => rm(base, { recursive: true }));
  const reach = (args: string[]) => pathReachingRoot(args, { repo, tree: null }, root, base, '/');
  const W = 'sandbox_workspace_write.writable_roots';

  it('refuses the root in any spelling: TOML arrays and strings, escapes, ~, relative paths, links (before a .. too), -o', async () => {
    for (const args of [
      ['-c', `${W}=["/"]`],
      ['-c', `${W}=["${root}"]`],
      ['-c', `${W}=[ '${root}/spool/inbox' ]`],
      ['-c', `${W}="${root}"`],
      ['-c', `${W}=${root}`],
      ['-c', `${W}=["${root.replaceAll('/', '\\u002f')}"]`],
      ['-c', `sandbox_workspace_write={ writable_roots = ["${root}/"] }`],
      ['--config', `${W}=["~/root"]`],
      ['-c', `${W}=["~"]`],
      ['-c', `${W}=["../root/spool"]`],
      ['-c', `${W}=[".."]`],
      ['-c', `${W}=["to-spool"]`],
      ['-c', `${W}=["to-spool/../.."]`],
      ['-c', `${W}=["dangling"]`],
      ['-c', `${W}=["sub/../../root"]`],
      ['--add-dir', 'to-spool'],
      ['--add-dir=~'],
      ['-o', `${root}/spool/done/forged.json`],
    ]) {
      expect(await reach(args), args.join(' ')).not.toBeNull();
    }
  });

  it('allows paths elsewhere', async () => {
    for (const args of [
      ['-c', `${W}=["/opt/data", "build", "sub/out"]`],
      ['--add-dir', '/opt/x'],
      ['-m', 'o3'],
      ['-c', 'model="gpt-5"'],
      ['-o', 'out.txt'],
    ]) {
      expect(await reach(args), args.join(' ')).toBeNull();
    }
  });

  it('the root spelled at random in a TOML value is always refused (property)', async () => {
    const spellings = fc.constantFrom(
      root,
      `${root}/spool`,
      '../root',
      '~/root',
      'to-spool',
      'to-spool/..',
      '/',
      `${root}/./spool/../spool`,
    );
    const toml = fc
      .tuple(spellings, fc.constantFrom('"', "'", '"""', "'''", ''), fc.boolean(), fc.array(fc.boolean(), { maxLength: 60 }))
      .map(([p, q, array, esc]) => {
        const body =
          q === '"' || q === '"""'
            ? [...p].map((c, i) => (esc[i] ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')
            : p;
        const str = `${q}${body}${q}`;
        return array && q !== '' ? `[ "/opt/ok", ${str} ]` : str; // a bare word is TOML only alone (Codex then takes the raw text)
      });
    await fc.assert(
      fc.asyncProperty(toml, async (value) => {
        expect(await reach(['-c', `${W}=${value}`])).not.toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('a worktree job: a relative path is taken from its tree too; one leaving the tree into the spool is refused, one inside it is its own (property)', async () => {
    const tree = join(root, 'spool', 'worktrees', 'j');
    await mkdir(tree, { recursive: true });
    const inTree = (args: string[]) => pathReachingRoot(args, { repo, tree }, root, base, repo);
    const up = fc.constantFrom(
      '..',
      '../..',
      '../../..',
      '../other',
      '../../inbox',
      '../../done/x.json',
      '../j/../../deferred',
      '../../../codex-spool.config.json',
      'sub/../../../runs',
    );
    const own = fc.array(fc.constantFrom('sub', 'out', '.', 'a/..'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
    await fc.assert(
      fc.asyncProperty(up, own, fc.constantFrom('--add-dir', 'writable'), async (outside, inside, how) => {
        const args = (p: string) => (how === '--add-dir' ? ['--add-dir', p] : ['-c', `${W}=["${p}"]`]);
        expect(await inTree(args(outside)), outside).not.toBeNull();
        expect(await inTree(args(inside)), inside).toBeNull();
      }),
      { numRuns: 100 },
    );
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
