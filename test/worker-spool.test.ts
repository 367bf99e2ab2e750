// The worker process against the spool, with the fast fake codex: bad input, half-written files,
// crashes and shutdowns. Nothing is lost, nothing runs twice.
import { execFileSync } from 'node:child_process';
import { link, open, readFile, rename, symlink, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectedStem } from '../src/spool/moves.js';
import { processesInGroups } from './chaos/fixtures/chaos-kit.js';
import {
  runningMeta,
  cli,
  jobsIn,
  endSpoolTest,
  fakeCodexSpool,
  readJson,
  release,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
  ageLocks,
} from './helpers/spool-env.js';

let t: TempRoot;
let repo: string;
let calls: () => Promise<string[]>;

beforeEach(async () => ({ t, repo, calls } = await fakeCodexSpool()));
afterEach(() => endSpoolTest(t));

const inbox = (name: string) => join(t.root, 'spool', 'inbox', name);
const rejected = (name: string) => join(t.root, 'spool', 'rejected', name);

describe('invalid jobs', () => {
  it('each kind is moved to rejected/ with its bytes unchanged and an error file naming the problem', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    const cases: [string, string | Buffer, string, RegExp][] = [
      ['not-json.json', '{"repo": "/tmp", "task": ', 'invalid_json', /JSON/],
      ['bad-utf8.json', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'invalid_json', /UTF-8/],
      ['unknown-field.json', JSON.stringify({ repo, task: 'x', colour: 'red' }), 'invalid_job', /colour/],
      ['missing-task.json', JSON.stringify({ repo }), 'invalid_job', /task/],
      ['wrong-type.json', JSON.stringify({ repo, task: 'x', timeout_s: 'soon' }), 'invalid_job', /timeout_s/],
      ['relative-repo.json', JSON.stringify({ repo: 'src', task: 'x' }), 'invalid_job', /absolute/],
      ['proto.json', `{"repo":${JSON.stringify(repo)},"task":"x","__proto__":{"polluted":true}}`, 'invalid_job', /__proto__/],
      ['no-repo.json', JSON.stringify({ repo: join(t.dir, 'nowhere'), task: 'x' }), 'repo_missing', /nowhere/],
      ['bad-resume.json', JSON.stringify({ repo, task: 'x', resume: 'never-was' }), 'unknown_resume', /never-was/],
      ['has space.json', JSON.stringify({ repo, task: 'x' }), 'bad_name', /not <id>\.json/],
      ['huge.json', `{"repo":${JSON.stringify(repo)},"task":"${'x'.repeat(300 * 1024)}"}`, 'policy', /over policy\.max_job_bytes 262144/],
    ];
    for (const [name, bytes] of cases) await writeFile(inbox(name), bytes);
    await symlink('/etc/hostname', inbox('link.json'));
    await mkdir(inbox('dir.json'));
    execFileSync('mkfifo', [inbox('fifo.json')]);

    const worker = startWorker(t, ['--reject-after-ms', '300']);
    const expected = cases.length + 3;
    await waitFor('all rejected', async () => (await jobsIn(t, 'rejected')).length === expected, 20_000);
    for (const [name, bytes, reason, message] of cases) {
      // A name that is not a job id is kept under a stand-in (its own name is in the error file).
      const stem = rejectedStem(name.replace(/\.json$/, ''));
      expect(await readFile(rejected(`${stem}.json`))).toEqual(Buffer.from(bytes));
      const error = await readJson(rejected(`${stem}.error.json`));
      expect(error.reason, name).toBe(reason);
      expect(error.message, name).toMatch(message);
      expect(error.job_file, name).toBe(name);
    }
    for (const name of ['link', 'dir', 'fifo']) {
      const error = await readJson(rejected(`${name}.error.json`));
      expect(error.reason).toBe('unreadable');
      expect(error.message).toMatch(/not a regular file/);
    }
    expect(({} as any).polluted).toBeUndefined();
    expect(await calls()).toEqual([]); // no Codex ran for any of them
    // The worker lives on and still runs good jobs.
    await writeFile(inbox('good.json'), JSON.stringify({ repo, task: 'fine' }));
    expect((await waitForFinished(t, 'good')).state).toBe('done');
    await worker.stop();
  });

  it('a second job with the id of a finished one is rejected, the first result untouched', async () => {
    const worker = startWorker(t);
    expect((await cli(t, ['submit', '--repo', repo, '--task', 'one', '--id', 'same'])).code).toBe(0);
    const first = await waitForFinished(t, 'same');
    const dup = await cli(t, ['submit', '--repo', repo, '--task', 'two', '--id', 'same']);
    expect(dup.code).toBe(2); // bad input
    expect(dup.stderr).toBe('codex-spool: duplicate_id: job id "same" is already used (in spool/done)');
    await writeFile(inbox('same.json'), JSON.stringify({ repo, task: 'two' }));
    await waitFor('duplicate rejected', async () => (await jobsIn(t, 'rejected')).includes('same~duplicate.json'));
    expect((await readJson(rejected('same~duplicate.error.json'))).reason).toBe('duplicate_id');
    expect(await readJson(join(t.root, 'spool', 'done', 'same.json'))).toEqual(first.record);
    await worker.stop();
  });
});

describe('submit and resume write the job as asked', () => {
  it('submit flags become job fields, with the submitting Claude session; bad values exit 2 writing nothing', async () => {
    t.env.CLAUDE_CODE_SESSION_ID = 'claude-123';
    const ok = await cli(t, [
      'submit',
      '--repo',
      repo,
      '--task',
      'x',
      '--id',
      'flags',
      '--worktree',
      '--priority',
      '3',
      '--max-attempts',
      '2',
      '--timeout',
      '60',
    ]);
    expect(ok.code).toBe(0);
    expect(await readJson(inbox('flags.json'))).toEqual({
      repo,
      task: 'x',
      worktree: true,
      priority: 3,
      max_attempts: 2,
      timeout_s: 60,
      claude_session: 'claude-123',
    });
    const resumed = await cli(t, ['resume', 'flags', '--task', 'more', '--id', 'more']);
    expect(resumed.code).toBe(0);
    expect(await readJson(inbox('more.json'))).toEqual({ repo, task: 'more', resume: 'flags', claude_session: 'claude-123' });
    for (const bad of [
      ['--priority', 'high'],
      ['--max-attempts', '0'],
      ['--timeout', '-1'],
    ]) {
      const r = await cli(t, ['submit', '--repo', repo, '--task', 'x', '--id', 'bad', ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^codex-spool: --(priority|max-attempts|timeout):? /);
    }
    expect(await jobsIn(t, 'inbox')).toEqual(['flags.json', 'more.json']);
  });
});

describe('bounded task input', () => {
  it('a task from an endless file or a stdin over the 16 MiB ceiling is refused (exit 2) without being read whole; nothing is queued', async () => {
    const endless = await cli(t, ['submit', '--repo', repo, '--task-file', '/dev/zero', '--id', 'zero']);
    expect({ code: endless.code, stderr: endless.stderr }).toEqual({
      code: 2,
      stderr: 'codex-spool: the task from /dev/zero is over 16777216 bytes, more than any job may hold',
    });
    const piped = await cli(t, ['resume', 'nosuch', '--task', '-', '--id', 'piped'], { input: 'x'.repeat(16 * 1024 * 1024 + 1) });
    expect({ code: piped.code, stderr: piped.stderr }).toEqual({
      code: 2,
      stderr: 'codex-spool: the task from stdin is over 16777216 bytes, more than any job may hold',
    });
    expect(await jobsIn(t, 'inbox')).toEqual([]);
  });
});

describe('job policy and spool safety', () => {
  it('jobs outside the policy are rejected naming the rule; nothing runs', async () => {
    const allowed = await t.repo('allowed');
    await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { repo_prefixes: [allowed], max_job_bytes: 2048 } }));
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    const jobs: [string, object, string][] = [
      ['danger', { repo: allowed, task: 'x', sandbox: 'danger-full-access' }, 'policy.sandboxes'],
      ['bypass', { repo: allowed, task: 'x', args: ['--dangerously-bypass-approvals-and-sandbox'] }, 'policy.allowed_args'],
      ['config', { repo: allowed, task: 'x', args: ['-c', 'sandbox_mode="danger-full-access"'] }, 'policy.allowed_args'],
      ['outside', { repo, task: 'x' }, 'policy.repo_prefixes'],
      ['long', { repo: allowed, task: 'x'.repeat(2048) }, 'policy.max_job_bytes'],
    ];
    for (const [id, job] of jobs) await writeFile(inbox(`${id}.json`), JSON.stringify(job));
    await writeFile(inbox('fine.json'), JSON.stringify({ repo: allowed, task: 'x', sandbox: 'read-only', args: ['-m', 'gpt-5'] }));
    const worker = startWorker(t);
    expect((await waitForFinished(t, 'fine')).state).toBe('done');
    await waitFor('all rejected', async () => (await jobsIn(t, 'rejected')).length === jobs.length);
    for (const [id, job, rule] of jobs) {
      const error = await readJson(rejected(`${id}.error.json`));
      expect(error.reason, id).toBe('policy');
      expect(error.message, id).toContain(rule); // the policy field it broke
      expect(error.message, id).not.toMatch(/^policy/); // shown after the reason, "policy: …", it must not repeat it
      expect(await readFile(rejected(`${id}.json`), 'utf8')).toBe(JSON.stringify(job));
    }
    expect(await calls()).toHaveLength(1);
    await worker.stop();
  });

  it('policy.max_job_bytes bounds what was submitted: submit refuses a larger job, and one that fits still runs once the worker queues it again with its own facts', async () => {
    const limit = 2048;
    await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { max_job_bytes: limit } }));
    const over = await cli(t, ['submit', '--repo', repo, '--task', 'x'.repeat(limit), '--id', 'over']);
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(/^codex-spool: policy: job of \d+ bytes is over policy\.max_job_bytes 2048$/);
    // A job one byte under the limit, failing transiently once (its retry's prompt no longer starts with
    // "transient"): its deferred file also holds attempts, runs and a reason.
    const base = JSON.stringify({ repo, task: 'transient ' }).length + 1;
    const task = `transient ${'x'.repeat(limit - base - 1)}`;
    expect((await cli(t, ['submit', '--repo', repo, '--task', task, '--id', 'edge'])).code).toBe(0);
    expect((await readFile(inbox('edge.json'))).length).toBe(limit - 1);
    const worker = startWorker(t, ['--retry-delay-ms', '50']);
    const { state, record } = await waitForFinished(t, 'edge');
    expect({ state, status: record.result?.status }).toEqual({ state: 'done', status: 'succeeded' });
    expect(await calls()).toHaveLength(2);
    await worker.stop();
  });

  it('the worker refuses a group-writable spool unless --allow-shared-spool', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    execFileSync('chmod', ['g+w', join(t.root, 'spool', 'inbox')]);
    const refused = startWorker(t);
    expect((await refused.child).exitCode).toBe(1);
    expect(refused.log()).toMatch(/unsafe spool: .*inbox is group- or world-writable/);
    const shared = startWorker(t, ['--allow-shared-spool']);
    await cli(t, ['submit', '--repo', repo, '--task', 'ok', '--id', 'shared']);
    expect((await waitForFinished(t, 'shared')).state).toBe('done');
    await shared.stop();
  });

  it('a policy file that does not parse stops the worker with exit 2', async () => {
    await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { sandboxes: ['yolo'] } }));
    const worker = startWorker(t);
    expect((await worker.child).exitCode).toBe(2);
    expect(worker.log()).toMatch(/bad policy/);
  });
});

describe('half-written files', () => {
  it('a job written slowly in chunks is claimed once, complete', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    const worker = startWorker(t);
    const text = JSON.stringify({ repo, task: 'written slowly in several chunks' }, null, 2);
    const fh = await open(inbox('slow.json'), 'w');
    const chunk = Math.ceil(text.length / 4);
    for (let i = 0; i < text.length; i += chunk) {
      await fh.write(text.slice(i, i + chunk));
      // The slow writer itself: nothing shows that the worker has looked at each half, so it is given time to.
      await new Promise((r) => setTimeout(r, 400));
    }
    await fh.close();
    const { state, record } = await waitForFinished(t, 'slow');
    expect(state).toBe('done');
    expect(record.task).toBe('written slowly in several chunks');
    expect(await calls()).toHaveLength(1);
    expect(await jobsIn(t, 'rejected')).toEqual([]);
    await worker.stop();
  });

  it('a whole JSON object is claimed without the settle wait; a number, which may still grow, waits for it', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    const worker = startWorker(t, ['--settle-ms', '600000']);
    await writeFile(inbox('number.json'), '7'); // could become 71: only claimed once settled
    await writeFile(inbox('plain.json'), `${JSON.stringify({ repo, task: 'one plain write' })}\n`); // not atomic
    expect((await waitForFinished(t, 'plain')).state).toBe('done');
    expect(await jobsIn(t, 'inbox')).toEqual(['number.json']);
    await worker.stop();
  });
});

/** Waits until job `id` runs and its meta.json has the Codex session id; returns that meta. */
const runningSession = (id: string) => runningMeta(t, id);

describe('crashes and shutdown', () => {
  it('SIGKILL of the worker mid-run: a restarted worker resumes the same session, runs it once more, files it once', async () => {
    const first = startWorker(t);
    await cli(t, ['submit', '--repo', repo, '--task', 'sleep 30', '--id', 'crash']);
    const meta = await runningSession('crash');
    await first.stop('SIGKILL');
    await ageLocks(t);
    // The orphaned Codex process group is still running; the restarted worker stops it before resuming.
    const second = startWorker(t);
    const { state, record } = await waitForFinished(t, 'crash', 60_000);
    expect(state).toBe('done');
    expect(record.result.session_id).toBe(meta.session_id);
    expect(record.attempts).toBe(1);
    const argvs = await calls();
    expect(argvs).toHaveLength(2);
    expect(argvs[1]).toContain(`resume ${meta.session_id}`);
    expect(await jobsIn(t, 'active')).toEqual([]);
    await second.stop();
  });

  it('worker --once right after a SIGKILLed worker names the job it leaves in active/ (its lock not stale yet) on stderr', async () => {
    const first = startWorker(t);
    await cli(t, ['submit', '--repo', repo, '--task', 'sleep 30', '--id', 'held']);
    await runningSession('held');
    await first.stop('SIGKILL');
    const once = startWorker(t, ['--once']);
    expect((await once.child).exitCode).toBe(0);
    expect(once.log()).toContain(
      'worker: 1 job(s) in active/ held by another worker, or by a dead one until its lock goes stale: left for a later run',
    );
    expect(await jobsIn(t, 'active')).toEqual(['held.json']);
  });

  it('SIGKILL of the worker while its Codex completes: the run is filed from its events, never run again', async () => {
    const first = startWorker(t);
    await cli(t, ['submit', '--repo', repo, '--task', 'hold=ends', '--id', 'ends']);
    const meta = await runningSession('ends');
    await first.stop('SIGKILL');
    await ageLocks(t);
    await release(t, 'ends');
    // Codex writes its events into the run's files itself: it completes with no worker alive.
    await waitFor('the run completed', async () =>
      (await readFile(join(t.root, 'runs', meta.run_id, 'events.jsonl'), 'utf8')).includes('turn.completed'),
    );
    // Its alive file may outlive it by a beat: the run is then left for the next recovery pass, 200 ms on.
    const second = startWorker(t, ['--rescan-ms', '200']);
    const { state, record } = await waitForFinished(t, 'ends', 60_000);
    expect(state).toBe('done');
    expect(record.attempts).toBe(0);
    expect(record.result).toMatchObject({
      run_id: meta.run_id,
      session_id: meta.session_id,
      status: 'succeeded',
      final_message: 'fake done',
    });
    expect(await calls()).toHaveLength(1);
    await second.stop();
  });

  it('SIGTERM stops the running Codex, leaves the job recoverable, and a restart resumes it', async () => {
    const first = startWorker(t, ['--grace-ms', '2000']);
    await cli(t, ['submit', '--repo', repo, '--task', 'sleep 30', '--id', 'term']);
    const { pid } = await runningSession('term');
    const sleeping = () => processesInGroups([pid]).filter((p) => p.cmd === 'sleep 30');
    await waitFor('the run sleeps, seen in its process group', async () => sleeping().length > 0);
    expect(await first.stop('SIGTERM')).toBe(0);
    // Queued again by the worker itself (deferred/ holds what the worker queues), not left in active/.
    expect(await jobsIn(t, 'active')).toEqual([]);
    expect(await jobsIn(t, 'deferred')).toEqual(['term.json']);
    // No process of the run is left: the fake codex's `sleep 30` is gone. Only the run's own process group
    // is looked at (Codex leads it): other test files run `sleep 30` of their own at the same time.
    expect(sleeping()).toEqual([]);

    const second = startWorker(t);
    const { state } = await waitForFinished(t, 'term', 60_000);
    expect(state).toBe('done');
    const argvs = await calls();
    expect(argvs).toHaveLength(2);
    expect(argvs[1]).toMatch(/ resume [0-9a-f-]{36} -- You were interrupted/);
    await second.stop();
  });
});

describe('scheduling', () => {
  // Another worker's active/ file that does not parse (a rejected job on its way out, or one read short
  // through a network file system's stale cached size) made the check for a live Codex in the tree throw
  // after the repo lock was taken; the lock was never let go, and every later job on the repo waited for ever.
  it('an unparsable file of another worker in active/ neither fails a job nor keeps its repo locked', async () => {
    const active = join(t.root, 'spool', 'active');
    await mkdir(join(active, 'other.json.lock'), { recursive: true }); // held (fresh): recovery leaves it alone
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(join(active, 'other.json'), '{"repo": "/tmp", "task": "cut sho');
    const w = startWorker(t);
    for (const id of ['one', 'two']) await writeFile(inbox(`${id}.json`), JSON.stringify({ repo, task: id }));
    for (const id of ['one', 'two']) expect((await waitForFinished(t, id, 8_000)).state).toBe('done');
    expect(w.log()).not.toMatch(/^error /m);
  });

  it('jobs on one repo run one at a time in submission order; other repos run beside them', async () => {
    const other = await t.repo('other');
    for (const [id, r] of [
      ['a1', repo],
      ['a2', repo],
      ['b1', other],
    ] as const) {
      await cli(t, ['submit', '--repo', r, '--task', `hold=${id}`, '--id', id]);
    }
    const worker = startWorker(t, ['--concurrency', '3']);
    // b1 runs beside a1; a2, passed over by the scan that started b1, waits for a1.
    await Promise.all([runningSession('a1'), runningSession('b1')]);
    for (const id of ['a1', 'a2', 'b1']) await release(t, id);
    const runs = await Promise.all(
      ['a1', 'a2', 'b1'].map(async (id) => {
        const { record } = await waitForFinished(t, id);
        return readJson(record.result.summary);
      }),
    );
    const [a1, a2, b1] = runs.map((s) => ({ start: Date.parse(s.started_at), end: Date.parse(s.ended_at) }));
    expect(a2!.start).toBeGreaterThanOrEqual(a1!.end); // same repo: after, never beside
    expect(b1!.start).toBeLessThan(a1!.end); // another repo: beside
    await worker.stop();
  });

  it('a worktree job runs beside another job on the same repo, in its own worktree and branch, kept after', async () => {
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base']);
    const worker = startWorker(t, ['--concurrency', '2']);
    await cli(t, ['submit', '--repo', repo, '--task', 'hold=plain', '--id', 'plain']);
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(inbox('tree.json'), JSON.stringify({ repo, task: 'hold=tree', worktree: true }));
    await Promise.all([runningSession('plain'), runningSession('tree')]);
    for (const id of ['plain', 'tree']) await release(t, id);
    const [plain, tree] = await Promise.all([waitForFinished(t, 'plain'), waitForFinished(t, 'tree')]);
    expect(tree.state).toBe('done');
    const wt = tree.record.result.worktree;
    expect(wt).toEqual({ path: join(t.root, 'spool', 'worktrees', 'tree'), branch: 'codex-spool/tree' });
    expect(execFileSync('git', ['-C', repo, 'branch', '--list', 'codex-spool/tree']).toString()).toContain('codex-spool/tree');
    expect(execFileSync('git', ['-C', wt.path, 'rev-parse', '--abbrev-ref', 'HEAD']).toString().trim()).toBe('codex-spool/tree');
    const [a, b] = await Promise.all([plain, tree].map((f) => readJson(f.record.result.summary)));
    expect(Date.parse(b.started_at)).toBeLessThan(Date.parse(a.ended_at)); // beside, not after
    expect((await calls()).find((c) => c.includes(`--cd ${wt.path}`))).toBeDefined();
    await worker.stop();
  });

  it('Codex never works where a planted file or link says a worktree is (another user of a shared spool)', async () => {
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base']);
    const session = '01a21193-f66c-7b90-bbe3-5bb485d74666';
    // A finished job whose result names the root as its worktree, and a follow-up of it on the same repo.
    const result = { run_id: null, session_id: session, status: 'succeeded', exit_code: 0, elapsed_seconds: 1, final_message: 'ok' };
    const planted = { repo, task: 't', queued_at: 1, attempts: 0, result: { ...result, error: null, summary: null } };
    await writeFile(
      join(t.root, 'spool', 'done', 'x.json'),
      JSON.stringify({ ...planted, result: { ...planted.result, worktree: { path: t.root, branch: 'b' } } }),
    );
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(inbox('follow.json'), JSON.stringify({ repo, task: 'follow', resume: 'x' }));
    // A worktree job whose worktree's name is a link to the root.
    await mkdir(join(t.root, 'spool', 'worktrees'), { mode: 0o700 });
    await symlink(t.root, join(t.root, 'spool', 'worktrees', 'linked'));
    await writeFile(inbox('linked.json'), JSON.stringify({ repo, task: 'tree', worktree: true }));

    expect((await startWorker(t, ['--once']).child).exitCode).toBe(1);
    expect(await calls()).toEqual([]); // no Codex ran, in the root or anywhere
    expect(await jobsIn(t, 'rejected')).toEqual(['follow.json']);
    const linked = await waitForFinished(t, 'linked');
    expect([linked.state, linked.record.result.error]).toEqual([
      'failed',
      expect.stringMatching(/worktrees\/linked is not a directory \(a symbolic link\)/),
    ]);
    // Nor does the continue line `result` prints lead there.
    expect((await cli(t, ['result', 'x'])).stdout).toContain(`continue: cd ${join(t.root, 'spool', 'worktrees', 'root')} && `);
  });

  it("no git the worker or worktree list runs starts the repo's core.fsmonitor command (outside Codex's sandbox)", async () => {
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base']);
    const marker = join(t.dir, 'fsmonitor-ran');
    execFileSync('git', ['-C', repo, 'config', 'core.fsmonitor', `touch ${marker}; false`]);
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(inbox('plain.json'), JSON.stringify({ repo, task: 'plain' }));
    await writeFile(inbox('tree.json'), JSON.stringify({ repo, task: 'tree', worktree: true }));
    expect((await startWorker(t, ['--once']).child).exitCode).toBe(0);
    expect((await cli(t, ['worktree', 'list'])).stdout).toMatch(/^tree +done /);
    expect(await readFile(marker).catch(() => null)).toBeNull();
  });

  it('higher priority runs first; equal priority in submission order', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    const repos = await Promise.all(['p1', 'p2', 'p3'].map((n) => t.repo(n)));
    await writeFile(inbox('low.json'), JSON.stringify({ repo: repos[0], task: 'low' }));
    // A sleep, not utimes: an inbox file's place in submission order is its ctime, which cannot be set.
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(inbox('mid.json'), JSON.stringify({ repo: repos[1], task: 'mid' }));
    await writeFile(inbox('high.json'), JSON.stringify({ repo: repos[2], task: 'high', priority: 5 }));
    const worker = startWorker(t, ['--concurrency', '1', '--once']);
    expect((await worker.child).exitCode).toBe(0);
    expect((await calls()).map((c) => c.split(' -- ')[1])).toEqual(['high', 'low', 'mid']);
  });

  it('a resume of a job that is still running waits for it, then continues its session', async () => {
    const worker = startWorker(t);
    await cli(t, ['submit', '--repo', repo, '--task', 'hold=parent', '--id', 'parent']);
    await runningSession('parent');
    await cli(t, ['submit', '--repo', repo, '--task', 'and then', '--id', 'child', '--resume', 'parent']);
    // A later job on another repo: the scan that starts it has passed the child by while parent runs.
    await cli(t, ['submit', '--repo', await t.repo('other'), '--task', 'later', '--id', 'later']);
    await waitForFinished(t, 'later');
    await release(t, 'parent');
    const parent = await waitForFinished(t, 'parent');
    const child = await waitForFinished(t, 'child');
    expect(child.state).toBe('done');
    expect(child.record.result.session_id).toBe(parent.record.result.session_id);
    await worker.stop();
  });
});

describe('watching the inbox', () => {
  // Rescans an hour apart: a job is picked up within the test only if a watch event leads the worker to it.
  const NO_RESCAN = ['--rescan-ms', '3600000'];
  const job = (id: string) => JSON.stringify({ repo, task: `echo ${id}` });

  for (const [mode, args] of [
    ['inotify', []],
    ['--poll 100', ['--poll', '100']],
  ] as const) {
    it(`${mode}: a job arriving in any way (one write, temp file + rename, hard link, a name taken back) is picked up by its event alone`, async () => {
      await writeFile(inbox('first.json'), job('first'));
      const worker = startWorker(t, [...NO_RESCAN, ...args]);
      await waitForFinished(t, 'first'); // listed at start; the watcher is ready by then
      await writeFile(inbox('write.json'), job('write'));
      await writeFile(inbox('.renamed.tmp'), job('renamed'));
      await rename(inbox('.renamed.tmp'), inbox('renamed.json'));
      await writeFile(join(t.dir, 'linked.json'), job('linked'));
      await link(join(t.dir, 'linked.json'), inbox('linked.json'));
      const ids = ['write', 'renamed', 'linked'];
      for (const id of ids) expect((await waitForFinished(t, id, 20_000)).state, id).toBe('done');
      // The id of a finished job, written again: an event names it, and it is rejected as a duplicate.
      await writeFile(inbox('first.json'), job('again'));
      await waitFor('first again rejected', async () => (await jobsIn(t, 'rejected')).includes('first~duplicate.json'), 20_000);
      await worker.stop();
    });

    it(`${mode}: an inbox file named by an event under the id of a running job is rejected at once, the job runs on`, async () => {
      const worker = startWorker(t, [...NO_RESCAN, ...args]);
      await writeFile(inbox('live.json'), JSON.stringify({ repo, task: 'hold=live' }));
      await runningMeta(t, 'live');
      await writeFile(inbox('live.json'), job('impostor'));
      await waitFor('impostor rejected', async () => (await jobsIn(t, 'rejected')).includes('live~duplicate.json'), 20_000);
      expect(await readFile(rejected('live~duplicate.json'), 'utf8')).toBe(job('impostor'));
      expect(await jobsIn(t, 'active')).toContain('live.json');
      await release(t, 'live');
      const { state, record } = await waitForFinished(t, 'live');
      expect([state, record.task]).toEqual(['done', 'hold=live']); // the job itself, not the impostor
      await worker.stop();
    });
  }
});
