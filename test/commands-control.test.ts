// cancel, retry, resume, prune, time limits and --on-done, against the real worker with the fake codex.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobId } from '../src/spool/schema.js';
import { JOB_STATES } from '../src/spool/layout.js';
import { tryLock } from '../src/spool/lock.js';
import { hostileArg } from './helpers/hostile.js';
import { processState } from './chaos/fixtures/chaos-kit.js';
import {
  cli,
  startCli,
  jobsIn,
  endSpoolTest,
  fakeCodexSpool,
  readIfExists,
  quickLockStale,
  readJson,
  release,
  runningMeta,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
} from './helpers/spool-env.js';

/** Stops a process at its first mkdir of the lock SLOW_LOCK_NAME names (SLOW_REPO_LOCK=stop). */
const STOP_AT_LOCK = join(import.meta.dirname, 'chaos', 'fixtures', 'slow-repo-lock.mjs');

let t: TempRoot;
let repo: string;
let calls: () => Promise<string[]>;

beforeEach(async () => ({ t, repo, calls } = await fakeCodexSpool()));
afterEach(() => endSpoolTest(t));

/** Processes whose command line is exactly `cmd`: none may outlive the run that started them. */
const processesRunning = (cmd: string) =>
  execFileSync('ps', ['-eo', 'args'])
    .toString()
    .split('\n')
    .filter((l) => l.trim() === cmd).length;
const submit = (id: string, task: string, ...extra: string[]) => cli(t, ['submit', '--repo', repo, '--task', task, '--id', id, ...extra]);

/** Every file and directory under `dir` (files with size and mtime), but for the directories left out. */
async function tree(dir: string, leaveOut: string[], out: Record<string, string> = {}): Promise<Record<string, string>> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (leaveOut.includes(path)) continue;
    const st = await lstat(path);
    out[relative(t.dir, path)] = st.isDirectory() ? 'dir' : `${st.size} ${st.mtimeMs}`;
    if (st.isDirectory()) await tree(path, leaveOut, out);
  }
  return out;
}

describe('job id arguments', () => {
  it('a path or any malformed id: exit 2, one message, no file touched; an unknown id: exit 3 (every command, submit --id)', async () => {
    // A finished job x, and files named x.json wherever a path-shaped id could reach.
    for (const state of JOB_STATES) await mkdir(join(t.root, 'spool', state), { recursive: true });
    await mkdir(join(t.root, 'runs'));
    await mkdir(join(t.root, 'done'));
    const result = {
      run_id: null,
      session_id: null,
      status: 'succeeded',
      exit_code: 0,
      elapsed_seconds: 1,
      final_message: 'x',
      error: null,
      summary: null,
    };
    await writeFile(join(t.root, 'spool', 'done', 'x.json'), JSON.stringify({ repo, task: 'x', result }));
    for (const path of [join(t.root, 'x.json'), join(t.root, 'done', 'x.json'), join(t.root, 'spool', 'x.json'), join(t.dir, 'x.json')]) {
      await writeFile(path, '{}');
    }
    // submit, and resume of x, queue a new job: the inbox may change, nothing else.
    const leaveOut = [join(t.root, 'spool', 'inbox')];
    const before = await tree(t.dir, leaveOut);
    const argv = (command: string, id: string): string[] =>
      ({
        cancel: ['cancel', '--wait', '1', '--', id],
        resume: ['resume', '--task', 'more', '--', id],
        wait: ['wait', '--timeout', '1', '--', id],
        submit: ['submit', '--repo', repo, '--task', 'new', '--id', id],
      })[command] ?? [command, '--', id];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('cancel', 'retry', 'resume', 'result', 'wait', 'logs', 'status', 'submit'),
        hostileArg.filter((s) => !s.includes('\0')), // no process argument can hold a NUL
        async (command, id) => {
          const r = await cli(t, argv(command, id));
          if (!JobId.safeParse(id).success) {
            expect(r.code, `${command} ${JSON.stringify(id)}`).toBe(2);
            expect(r.stderr).toMatch(/^codex-spool: invalid job id "[^\n]*$/);
          } else if (command === 'submit') {
            expect(r.code, r.stderr).toBe(id === 'x' ? 2 : 0); // x: a duplicate id, refused as bad input
            await rm(join(t.root, 'spool', 'inbox', `${id}.json`), { force: true }); // unknown again to the commands after it
          } else if (id !== 'x') {
            expect(r, `${command} ${JSON.stringify(id)}`).toMatchObject({ code: 3, stderr: `codex-spool: no such job: ${id}` });
          }
          expect(await tree(t.dir, leaveOut)).toEqual(before);
        },
      ),
      {
        numRuns: 40,
        examples: ['cancel', 'retry', 'resume', 'result', 'wait', 'logs', 'status'].map((c) => [c, '../done/x']),
      },
    );
  }, 300_000);
});

describe('submit refuses at once what the worker would reject', () => {
  it('each case: exit 2 and one line naming the reason; nothing queued; a resume of a queued job is accepted', async () => {
    const cases: [string[], string][] = [
      [['--resume', 'nosuch'], 'unknown_resume: resume target "nosuch" is neither a session id nor a job of this spool'],
      [['-s', 'danger-full-access'], 'policy: sandbox "danger-full-access" is not allowed (policy.sandboxes: read-only, workspace-write)'],
      [['--', '--add-dir', '/'], 'policy: argument "--add-dir" is not allowed (policy.allowed_args / allowed_config_keys)'],
      [['--priority', 'high'], '--priority must be an integer, got "high"'],
      [['--timeout', '1mo'], '--timeout: "1mo": months are not accepted (m is minutes); write days, e.g. 30d'],
    ];
    for (const [extra, message] of cases) {
      const r = await submit('bad', 'x', ...extra);
      expect([r.code, r.stderr, r.stdout]).toEqual([2, `codex-spool: ${message}`, '']);
    }
    const inside = await cli(t, ['submit', '--repo', t.root, '--task', 'x']);
    expect([inside.code, inside.stderr]).toEqual([
      2,
      `codex-spool: policy: repo ${t.root} contains the codex-spool root ${t.root}: a job there could rewrite the queue's policy and state`,
    ]);
    expect(await jobsIn(t, 'inbox')).toEqual([]);
    expect((await submit('first', 'x')).code).toBe(0);
    expect((await submit('second', 'x', '--resume', 'first')).code).toBe(0); // waits for first
    const dup = await submit('first', 'x');
    expect([dup.code, dup.stderr]).toEqual([2, 'codex-spool: duplicate_id: job id "first" is already used (in spool/inbox)']);
    expect(await jobsIn(t, 'inbox')).toEqual(['first.json', 'second.json']);
  });

  it('for any job: a batch line is refused with exactly the reason the worker rejects the same job file with', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(join(t.root, 'spool', 'inbox', 'queued.json'), JSON.stringify({ repo, task: 'x' }));
    const job = fc.record(
      {
        repo: fc.constantFrom(repo, join(repo, 'missing'), t.root, join(t.root, 'spool')),
        task: fc.constant('x'),
        sandbox: fc.constantFrom('read-only', 'workspace-write', 'danger-full-access'),
        args: fc.constantFrom(
          [],
          ['--skip-git-repo-check'],
          ['--add-dir', '/'],
          ['-c', 'sandbox_mode=danger-full-access'],
          ['-c', 'model=m'],
          ['extra'],
        ),
        resume: fc.constantFrom('queued', 'nosuch', '01a2122a-e8ea-7501-90e5-337c8e7d20b8'),
        timeout_s: fc.constantFrom(60, 604800),
      },
      { requiredKeys: ['repo', 'task'] },
    );
    const jobs = fc.sample(job, { numRuns: 40, seed: 42 });
    const batch = join(t.dir, 'jobs.jsonl');
    await writeFile(batch, jobs.map((j, i) => JSON.stringify({ id: `b${i}`, ...j })).join('\n'));
    const report = JSON.parse((await cli(t, ['submit', '--batch', batch, '--json'])).stdout);
    // The same jobs written straight into the inbox, for the worker to judge.
    for (const [i, j] of jobs.entries()) await writeFile(join(t.root, 'spool', 'inbox', `w${i}.json`), JSON.stringify(j));
    await startWorker(t, ['--once']).child.catch(() => undefined);
    const rejected = new Set(await jobsIn(t, 'rejected'));
    for (const [i, r] of report.results.entries()) {
      const workerReason = rejected.has(`w${i}.json`)
        ? (await readJson(join(t.root, 'spool', 'rejected', `w${i}.error.json`))).reason
        : null;
      expect({ job: jobs[i], submit: r.status === 'invalid' ? r.error.split(':')[0] : null }).toEqual({
        job: jobs[i],
        submit: workerReason,
      });
    }
    expect(report.invalid).toBeGreaterThan(0);
    expect(report.submitted).toBeGreaterThan(0);
  });
});

describe('cancel', () => {
  it('a queued job moves to failed as cancelled and never runs', async () => {
    await submit('q', 'never run');
    const r = await cli(t, ['cancel', 'q']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('q cancelled');
    const worker = startWorker(t, ['--once']);
    expect((await worker.child).exitCode).toBe(0);
    const { state, record } = await waitForFinished(t, 'q');
    expect(state).toBe('failed');
    expect(record.result.status).toBe('cancelled');
    expect(record.task).toBe('never run');
    expect(await calls()).toEqual([]);
  });

  // A worker's recovery takes over a claim whose holder was paused past the stale time and queues the job again.
  it('a cancel paused past the stale time after its claim, the job taken over and run: it cancels the run', async () => {
    await quickLockStale(t);
    await submit('late', 'hang');
    const stopAfterClaim = { ...t.env, NODE_OPTIONS: `--import=${join(import.meta.dirname, 'fixtures', 'stop-after-claim.mjs')}` };
    const cancel = startCli({ ...t, env: stopAfterClaim }, ['cancel', 'late']);
    await waitFor('the cancel stopped after its claim', () => processState(cancel.child.pid!) === 'T');
    const worker = startWorker(t, ['--rescan-ms', '200']);
    await waitFor('the worker runs late', async () =>
      (await readIfExists(join(t.root, 'spool', 'active', 'late.json')))?.includes('run_id'),
    );
    cancel.child.kill('SIGCONT');
    const r = await cancel.done;
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, 'late cancelled', '']);
    expect((await waitForFinished(t, 'late')).record.result.status).toBe('cancelled');
    await worker.stop();
  });

  it('a running job has its whole Codex tree stopped, ends cancelled and keeps its session id', async () => {
    const worker = startWorker(t, ['--rescan-ms', '200', '--grace-ms', '2000']);
    await submit('run', 'sleep 41.5');
    await waitFor('tool command running', () => processesRunning('sleep 41.5') === 1);
    const r = await cli(t, ['cancel', 'run', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ id: 'run', state: 'cancelled' });
    const { state, record } = await waitForFinished(t, 'run');
    expect(state).toBe('failed');
    expect(record.result.status).toBe('cancelled');
    expect(record.result.session_id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor('no process of the run left', () => processesRunning('sleep 41.5') === 0, 5_000);
    expect(await readdir(join(t.root, 'spool', 'active'))).toEqual([]);
    await worker.stop();
  });

  it('a run that ends otherwise while the request is on its way: its real end, exit 1, and no request left behind', async () => {
    // No worker: the test plays the worker whose run ends (succeeded) just as the request is written.
    for (const state of ['active', 'done']) await mkdir(join(t.root, 'spool', state), { recursive: true });
    const activePath = join(t.root, 'spool', 'active', 'racy.json');
    const requestPath = join(t.root, 'spool', 'active', 'racy.cancel');
    await writeFile(activePath, JSON.stringify({ repo, task: 'x', run_id: 'run-1' }));
    const cancel = startCli(t, ['cancel', 'racy', '--wait', '60']);
    const request = await waitFor('the cancel request', () => readIfExists(requestPath));
    expect(request.split('\n')[0]).toBe('run-1'); // it names the run it cancels
    const result = {
      run_id: 'run-1',
      session_id: null,
      status: 'succeeded',
      exit_code: 0,
      elapsed_seconds: 1,
      final_message: 'done',
      error: null,
      summary: null,
    };
    await writeFile(join(t.dir, 'racy.json'), JSON.stringify({ repo, task: 'x', result }));
    await rename(join(t.dir, 'racy.json'), join(t.root, 'spool', 'done', 'racy.json')); // published whole, as the worker does
    await unlink(activePath);
    const r = await cancel.done;
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'codex-spool: racy had already ended: succeeded\n' });
    expect(await readIfExists(requestPath)).toBeNull(); // it would cancel a later job of the same id
  });

  it('a job claimed but not started yet: the request says "pending"; still running at --wait: exit 4', async () => {
    await mkdir(join(t.root, 'spool', 'active'), { recursive: true });
    await writeFile(join(t.root, 'spool', 'active', 'early.json'), JSON.stringify({ repo, task: 'x' }));
    const r = await cli(t, ['cancel', 'early', '--wait', '300ms']);
    expect(r).toMatchObject({ code: 4, stdout: 'early cancel requested' });
    expect((await readIfExists(join(t.root, 'spool', 'active', 'early.cancel')))?.split('\n')[0]).toBe('pending');
  });

  it('a job queued again after a run, cancelled, keeps its session: result shows it, retry continues it', async () => {
    const worker = startWorker(t);
    await submit('again', 'hold=again');
    const meta = await runningMeta(t, 'again');
    expect(await worker.stop('SIGTERM')).toBe(0); // interrupted: deferred, to resume its session
    expect(await jobsIn(t, 'deferred')).toEqual(['again.json']);
    expect((await cli(t, ['cancel', 'again'])).code).toBe(0);
    const { result } = await readJson(join(t.root, 'spool', 'failed', 'again.json'));
    expect(result).toMatchObject({ status: 'cancelled', session_id: meta.session_id, error: 'cancelled by the user while queued again' });

    expect((await cli(t, ['retry', 'again'])).code).toBe(0);
    const next = startWorker(t, ['--rescan-ms', '200']);
    await release(t, 'again');
    expect((await waitForFinished(t, 'again')).state).toBe('done');
    expect((await calls()).at(-1)).toContain(`resume ${meta.session_id}`);
    await next.stop();
  });

  it('an unknown id exits 3; a finished job cannot be cancelled (exit 1)', async () => {
    expect((await cli(t, ['cancel', 'nope'])).code).toBe(3);
    const worker = startWorker(t);
    await submit('fin', 'quick');
    await waitForFinished(t, 'fin');
    const r = await cli(t, ['cancel', 'fin']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already ended/);
    await worker.stop();
  });
});

describe('time limits', () => {
  it('a job past its timeout_s is stopped with its tool command and ends timed_out', async () => {
    const worker = startWorker(t, ['--grace-ms', '2000']);
    await submit('slow', 'sleep 42.5', '--timeout', '500ms');
    const { state, record } = await waitForFinished(t, 'slow');
    expect(state).toBe('failed');
    expect(record.result.status).toBe('timed_out');
    expect(record.result.error).toMatch(/time limit/);
    await waitFor('no process of the run left', () => processesRunning('sleep 42.5') === 0, 5_000);
    await worker.stop();
  });

  it('a run that prints no event for the stall limit is stopped and ends timed_out', async () => {
    const worker = startWorker(t, ['--stall-timeout', '500ms', '--grace-ms', '300']);
    await submit('stall', 'hang');
    const { record } = await waitForFinished(t, 'stall');
    expect(record.result.status).toBe('timed_out');
    expect(record.result.error).toMatch(/stall/);
    await worker.stop();
  });
});

describe('retry and resume', () => {
  it('retry queues a failed job again as a new round of attempts; it then succeeds and no failure is left', async () => {
    const worker = startWorker(t, ['--rescan-ms', '200']); // retry queues into deferred/, which only a rescan lists
    await submit('flaky', 'fail once');
    expect((await waitForFinished(t, 'flaky')).state).toBe('failed');
    expect((await cli(t, ['retry', 'nope'])).code).toBe(3);
    // Make the retried run succeed: the fake codex fails only on prompts starting with "fail".
    const failedPath = join(t.root, 'spool', 'failed', 'flaky.json');
    const record = await readJson(failedPath);
    await writeFile(failedPath, JSON.stringify({ ...record, task: 'works now' }));
    const r = await cli(t, ['retry', 'flaky']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^flaky queued/);
    await waitFor('flaky done', async () => (await jobsIn(t, 'done')).includes('flaky.json'));
    const done = await readJson(join(t.root, 'spool', 'done', 'flaky.json'));
    expect(done.attempts).toBe(0);
    expect(done.result.status).toBe('succeeded');
    expect(await jobsIn(t, 'failed')).toEqual([]);
    expect(await calls()).toHaveLength(2);
    expect((await cli(t, ['retry', 'flaky'])).code).toBe(2); // done jobs are not retried
    await worker.stop();
  });

  it('retry of a worktree job whose directory was removed by hand runs in a worktree made again on its branch, commits and all', async () => {
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]).toString();
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'base');
    const worker = startWorker(t, ['--rescan-ms', '200']);
    await submit('tree', 'fail once', '--worktree');
    expect((await waitForFinished(t, 'tree')).state).toBe('failed');
    const wt = join(t.root, 'spool', 'worktrees', 'tree');
    await writeFile(join(wt, 'kept.txt'), 'work\n');
    git(wt, 'add', 'kept.txt');
    git(wt, 'commit', '-q', '-m', 'work of the failed run');
    await rm(wt, { recursive: true });
    const failedPath = join(t.root, 'spool', 'failed', 'tree.json');
    await writeFile(failedPath, JSON.stringify({ ...(await readJson(failedPath)), task: 'works now' }));

    expect((await cli(t, ['retry', 'tree'])).code).toBe(0);
    const { state, record } = await waitForFinished(t, 'tree');
    expect([state, record.result.error]).toEqual(['done', null]);
    expect(record.result.worktree).toEqual({ path: wt, branch: 'codex-spool/tree' });
    expect(git(wt, 'log', '-1', '--format=%s').trim()).toBe('work of the failed run');
    expect(git(wt, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('codex-spool/tree');
    // A new job never takes over a branch of its name that it did not make: it fails, saying so.
    git(repo, 'branch', 'codex-spool/fresh');
    await submit('fresh', 'hello', '--worktree');
    const fresh = await waitForFinished(t, 'fresh');
    expect([fresh.state, fresh.record.result.error]).toEqual(['failed', expect.stringContaining("'codex-spool/fresh' already exists")]);
    await worker.stop();
  });

  it('retry waits for a worker that has filed the job but not yet let go of its lock', async () => {
    const worker = startWorker(t);
    await submit('held', 'fail once');
    expect((await waitForFinished(t, 'held')).state).toBe('failed');
    await worker.stop();
    // As a worker holds it between filing the job and releasing its claim.
    const lock = await tryLock(join(t.root, 'spool', 'active'), 'held.json', () => undefined);
    expect(lock).not.toBeNull();
    const retried = cli(t, ['retry', 'held']);
    // A sleep: nothing outside shows that retry has reached its wait for the lock; this gives it the time to.
    await new Promise((r) => setTimeout(r, 500));
    await lock!.release();
    const r = await retried;
    expect(r.stderr).toBe('');
    expect([r.code, await jobsIn(t, 'deferred')]).toEqual([0, ['held.json']]);
  });

  it('a retry paused before its lock, the job retried and filed again meanwhile: it queues nothing and says why', async () => {
    const worker = startWorker(t);
    await submit('twice', 'fail once');
    expect((await waitForFinished(t, 'twice')).state).toBe('failed');
    await worker.stop();
    const stopAtLock = {
      ...t.env,
      NODE_OPTIONS: `--import=${STOP_AT_LOCK}`,
      SLOW_REPO_LOCK: 'stop',
      SLOW_LOCK_NAME: '^twice\\.json\\.lock$',
    };
    const paused = startCli({ ...t, env: stopAtLock }, ['retry', 'twice']);
    await waitFor('the first retry stopped at its lock', () => processState(paused.child.pid!) === 'T');
    // Meanwhile a second retry queues it and its run is filed (as done, here by hand: the worker's move).
    expect((await cli(t, ['retry', 'twice'])).code).toBe(0);
    await rename(join(t.root, 'spool', 'deferred', 'twice.json'), join(t.root, 'spool', 'done', 'twice.json'));
    paused.child.kill('SIGCONT');
    const r = await paused.done;
    expect([r.code, r.stderr.trim()]).toEqual([2, 'codex-spool: twice is in spool/done: only failed jobs can be retried']);
    expect(await jobsIn(t, 'deferred')).toEqual([]);
  });

  // The failed record goes after the queued copy is published: a retry paused in between, past the stale time,
  // finds on SIGCONT the job run and filed in failed/ again by a worker, under the name it was about to remove.
  it('a retry paused after queuing the job, the job run and failed again meanwhile: the new failure stays', async () => {
    await quickLockStale(t);
    await submit('again', 'fail');
    expect((await startWorker(t, ['--once']).child).exitCode).toBe(1);
    const stopAfterQueue = {
      ...t.env,
      NODE_OPTIONS: `--import=${join(import.meta.dirname, 'fixtures', 'stop-after-claim.mjs')}`,
      STOP_AFTER: 'link:deferred',
    };
    const paused = startCli({ ...t, env: stopAfterQueue }, ['retry', 'again']);
    await waitFor('the retry stopped after queuing the job', () => processState(paused.child.pid!) === 'T');
    const failing = join(t.dir, 'failing-codex'); // the fake codex's prompts that fail start with "fail"; a retry's does not
    await writeFile(
      failing,
      '#!/bin/sh\n[ "$1" = --version ] && exec echo codex-cli 0\necho \'{"type":"turn.failed","error":{"message":"failed again"}}\'\nexit 1\n',
      { mode: 0o755 },
    );
    const worker = startWorker(t, ['--rescan-ms', '200', '--skip-codex-check'], failing);
    const failedPath = join(t.root, 'spool', 'failed', 'again.json');
    await waitFor('the job run and filed again', async () => (await readIfExists(failedPath))?.includes('failed again'));
    paused.child.kill('SIGCONT');
    const r = await paused.done;
    await worker.stop();
    expect({ code: r.code, error: (await readJson(failedPath)).result.error }).toEqual({ code: 0, error: 'failed again' });
  });

  it('resume ID --task queues a follow-up in the same session', async () => {
    const worker = startWorker(t);
    await submit('base', 'first');
    const base = await waitForFinished(t, 'base');
    const r = await cli(t, ['resume', 'base', '--task', 'second', '--id', 'follow', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).id).toBe('follow');
    const follow = await waitForFinished(t, 'follow');
    expect(follow.record.repo).toBe(repo);
    expect(follow.record.result.session_id).toBe(base.record.result.session_id);
    expect((await calls())[1]).toContain(`resume ${base.record.result.session_id} -- second`);
    await worker.stop();
  });
});

/** Makes a finished job look `days` old: its file's mtime and its run's id (run ids carry their time). */
async function age(id: string, days: number): Promise<string> {
  const path = join(t.root, 'spool', 'done', `${id}.json`);
  const record = await readJson(path);
  const past = new Date(Date.now() - days * 86400_000);
  const agedRun = `${past.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${id.padEnd(8, '0').slice(0, 8)}`;
  execFileSync('mv', [join(t.root, 'runs', record.result.run_id), join(t.root, 'runs', agedRun)]);
  await writeFile(path, JSON.stringify({ ...record, result: { ...record.result, run_id: agedRun } }));
  await utimes(path, past, past);
  return agedRun;
}

describe('prune', () => {
  it('lists old finished jobs and their runs, deletes them only with --yes, keeps young ones', async () => {
    const worker = startWorker(t);
    await submit('old', 'a');
    await submit('young', 'b');
    await waitForFinished(t, 'old');
    await waitForFinished(t, 'young');
    await worker.stop();
    const oldPath = join(t.root, 'spool', 'done', 'old.json');
    const agedRun = await age('old', 40);

    const dry = await cli(t, ['prune', '--older-than', '30d', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ deleted: false, jobs: [oldPath], runs: [agedRun], cancel_requests: [], kept_for_resume: [] });
    expect((await cli(t, ['prune', '--older-than', '30d'])).stdout).toBe(
      `would remove 1 job files, 1 run directories, 0 cancel requests (--yes to delete)\nspool/done/old.json\nruns/${agedRun}`,
    );
    expect(await jobsIn(t, 'done')).toEqual(['old.json', 'young.json']);
    const real = await cli(t, ['prune', '--older-than', '30d', '--yes']);
    expect(real.stdout).toBe(`removed 1 job files, 1 run directories, 0 cancel requests\nspool/done/old.json\nruns/${agedRun}`);
    expect(await jobsIn(t, 'done')).toEqual(['young.json']);
    expect(await readdir(join(t.root, 'runs'))).toHaveLength(1);
    // A duration needs a unit; m is minutes, months are refused rather than guessed.
    const refusals = {
      soon: '"soon" is not a duration like 45s, 10m, 12h, 30d (units ms, s, m = minutes, h, d, w; no months)',
      '30': '"30" has no unit; write 45s, 10m, 12h, 30d (units ms, s, m = minutes, h, d, w; no months)',
      '1mo': '"1mo": months are not accepted (m is minutes); write days, e.g. 30d',
      '1M': '"1M": months are not accepted (m is minutes); write days, e.g. 30d',
      '2y': '"2y": unknown unit "y"; write 45s, 10m, 12h, 30d (units ms, s, m = minutes, h, d, w; no months)',
    };
    for (const [arg, message] of Object.entries(refusals)) {
      const r = await cli(t, ['prune', '--older-than', arg]);
      expect([r.code, r.stderr]).toEqual([2, `codex-spool: --older-than: ${message}`]);
    }
  });
});

describe('prune lists what it would remove', () => {
  it('one file a line, at most 50, then how many more; --json lists them all', async () => {
    const done = join(t.root, 'spool', 'done');
    await mkdir(done, { recursive: true });
    const past = new Date(Date.now() - 40 * 86400_000);
    const ids = Array.from({ length: 53 }, (_, i) => `old-${String(i).padStart(2, '0')}`);
    for (const id of ids) {
      await writeFile(join(done, `${id}.json`), '{}');
      await utimes(join(done, `${id}.json`), past, past);
    }
    const lines = (await cli(t, ['prune', '--older-than', '30d'])).stdout.split('\n');
    expect(lines).toEqual([
      'would remove 53 job files, 0 run directories, 0 cancel requests (--yes to delete)',
      ...ids.slice(0, 50).map((id) => `spool/done/${id}.json`),
      '… 3 more (--json lists all)',
    ]);
    expect(JSON.parse((await cli(t, ['prune', '--older-than', '30d', '--json'])).stdout).jobs).toHaveLength(53);
    expect(await jobsIn(t, 'done')).toHaveLength(53); // a dry run
  });
});

// Seen: a directory with a job's name in a finished state (the worker moves one planted in the inbox to
// rejected/ whole) was skipped in silence, and so kept for ever.
it("prune removes an old directory that holds a finished job's name, as any other job file; a young one stays", async () => {
  const rejected = join(t.root, 'spool', 'rejected');
  await mkdir(join(rejected, 'old-dir.json', 'inside'), { recursive: true });
  await writeFile(join(rejected, 'old-dir.json', 'inside', 'f'), 'x');
  await mkdir(join(rejected, 'young-dir.json'));
  const past = new Date(Date.now() - 40 * 86400_000);
  await utimes(join(rejected, 'old-dir.json'), past, past);
  const dry = JSON.parse((await cli(t, ['prune', '--older-than', '30d', '--json'])).stdout) as { jobs: string[] };
  expect(dry.jobs).toEqual([join(rejected, 'old-dir.json')]);
  const real = await cli(t, ['prune', '--older-than', '30d', '--yes']);
  expect([real.code, real.stdout.split('\n')[1]]).toEqual([0, 'spool/rejected/old-dir.json']);
  expect(await readdir(rejected)).toEqual(['young-dir.json']);
});

describe('prune keeps what live jobs need', () => {
  it('a finished job that a queued follow-up resumes (through a queued chain) stays with its run; the follow-ups then run', async () => {
    await submit('base', 'first');
    let worker = startWorker(t, ['--once']);
    await worker.child;
    const baseRun = await age('base', 40);
    await submit('next', 'second', '--resume', 'base');
    await submit('last', 'third', '--resume', 'next'); // waits for next, which waits for base
    const dry = await cli(t, ['prune', '--older-than', '30d']);
    expect(dry.stdout).toBe(
      'would remove 0 job files, 0 run directories, 0 cancel requests (--yes to delete)\nkept base: resumed by a live job',
    );
    const r = await cli(t, ['prune', '--older-than', '30d', '--yes', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ deleted: true, jobs: [], runs: [], cancel_requests: [], kept_for_resume: ['base'] });
    expect(await readdir(join(t.root, 'runs'))).toContain(baseRun);
    worker = startWorker(t);
    const base = await readJson(join(t.root, 'spool', 'done', 'base.json'));
    for (const id of ['next', 'last']) {
      const { state, record } = await waitForFinished(t, id);
      expect(state).toBe('done');
      expect(record.result.session_id).toBe(base.result.session_id);
    }
    await worker.stop();
  });

  it('a follow-up queued by session id keeps the latest job of that session, and its worktree: it then runs there', async () => {
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base']);
    await submit('older', 'first', '--worktree');
    await startWorker(t, ['--once']).child;
    const session: string = (await readJson(join(t.root, 'spool', 'done', 'older.json'))).result.session_id;
    await submit('tree', 'second', '--resume', 'older'); // runs in older's worktree, in its session
    await startWorker(t, ['--once']).child;
    await age('older', 41);
    await age('tree', 40);
    await submit('next', 'third', '--resume', session.toUpperCase());
    const r = await cli(t, ['prune', '--older-than', '30d', '--yes', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ jobs: [join(t.root, 'spool', 'done', 'older.json')], kept_for_resume: ['tree'] });
    await startWorker(t, ['--once']).child;
    expect((await waitForFinished(t, 'next')).state).toBe('done');
    expect((await calls())[2]).toContain(`--cd ${join(t.root, 'spool', 'worktrees', 'older')} `);
  });

  it('a follow-up whose inherited worktree was removed is refused by submit and resume, by job id or session id (exit 2), as the worker would', async () => {
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'base']);
    await submit('wt', 'first', '--worktree');
    await startWorker(t, ['--once']).child;
    const session: string = (await readJson(join(t.root, 'spool', 'done', 'wt.json'))).result.session_id;
    expect((await cli(t, ['worktree', 'remove', 'wt'])).code).toBe(0);
    const why = `repo_missing: worktree ${join(t.root, 'spool', 'worktrees', 'wt')} of job "wt" no longer exists`;
    for (const args of [
      ['resume', 'wt'],
      ['resume', session],
      ['submit', '--resume', session],
    ]) {
      const r = await cli(t, [...args, '--task', 'more']);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `codex-spool: ${why}` });
    }
    // One asking for a worktree of its own inherits nothing and is queued.
    expect((await cli(t, ['submit', '--resume', 'wt', '--worktree', '--task', 'more'])).code).toBe(0);
    expect(await jobsIn(t, 'inbox')).toHaveLength(1);
  });

  it('a follow-up still being written (not yet JSON) keeps the finished job it names', async () => {
    await submit('base', 'first');
    await startWorker(t, ['--once']).child;
    await age('base', 40);
    await writeFile(join(t.root, 'spool', 'inbox', 'half.json'), `{"repo": ${JSON.stringify(repo)}, "resume": "base", "task": "th`);
    const r = await cli(t, ['prune', '--older-than', '30d', '--yes', '--json']);
    expect(JSON.parse(r.stdout).kept_for_resume).toEqual(['base']);
  });

  it('cancel requests whose run is not active go, whatever their age; one for a running job stays', async () => {
    const active = join(t.root, 'spool', 'active');
    await mkdir(active, { recursive: true });
    await writeFile(join(active, 'gone.cancel'), 'run-1\n'); // its job is not active
    await writeFile(join(active, 'live.json'), JSON.stringify({ repo, task: 'x', run_id: 'run-2' }));
    await writeFile(join(active, 'live.cancel'), 'run-2\n'); // its run is active
    await writeFile(join(active, 'again.json'), JSON.stringify({ repo, task: 'x', run_id: 'run-4' }));
    await writeFile(join(active, 'again.cancel'), 'run-3\n'); // an earlier run of the id
    const dry = await cli(t, ['prune', '--older-than', '30d']);
    expect(dry.stdout).toBe(
      'would remove 0 job files, 0 run directories, 2 cancel requests (--yes to delete)\nspool/active/again.cancel\nspool/active/gone.cancel',
    );
    await cli(t, ['prune', '--older-than', '30d', '--yes']);
    expect((await readdir(active)).sort()).toEqual(['again.json', 'live.cancel', 'live.json']);
  });
});

describe('--on-done', () => {
  it('runs the command after each job with its id, status, session and summary; a failing command is not fatal', async () => {
    const out = join(t.dir, 'on-done.log');
    const worker = startWorker(t, [
      '--on-done',
      `echo "$CODEX_SPOOL_JOB_ID $CODEX_SPOOL_STATE $CODEX_SPOOL_STATUS $CODEX_SPOOL_SESSION_ID $CODEX_SPOOL_SUMMARY" >> ${out}; exit 3`,
    ]);
    await submit('cb1', 'ok');
    await submit('cb2', 'fail please');
    const one = await waitForFinished(t, 'cb1');
    const two = await waitForFinished(t, 'cb2');
    const lines = await waitFor('two callbacks', async () => {
      const l = (await readIfExists(out))?.split('\n').filter(Boolean) ?? [];
      return l.length === 2 ? l : null;
    });
    expect(lines).toContain(`cb1 done succeeded ${one.record.result.session_id} ${one.record.result.summary}`);
    expect(lines).toContain(`cb2 failed failed ${two.record.result.session_id} ${two.record.result.summary}`);
    expect(worker.log()).toMatch(/on-done for cb1 failed/);
    await submit('cb3', 'still alive');
    expect((await waitForFinished(t, 'cb3')).state).toBe('done');
    await worker.stop();
  });
});

describe('deferral', () => {
  it('a usage limit defers the job until the reset, then it resumes its session, no attempt counted', async () => {
    const worker = startWorker(t, ['--rescan-ms', '200']);
    await submit('limited', 'usage limit hit');
    const deferred = await waitFor('deferred', async () => {
      const text = await readIfExists(join(t.root, 'spool', 'deferred', 'limited.json'));
      return text && JSON.parse(text);
    });
    const notBefore = Date.parse(deferred.not_before);
    expect(deferred.resume_session).toMatch(/^[0-9a-f-]{36}$/);
    const { state, record } = await waitForFinished(t, 'limited');
    expect(state).toBe('done');
    expect(record.result.session_id).toBe(deferred.resume_session);
    expect(record.attempts ?? 0).toBe(0);
    const runs = await Promise.all((await readdir(join(t.root, 'runs'))).map((r) => readJson(join(t.root, 'runs', r, 'meta.json'))));
    const second = runs.find((m) => m.resumed_from === deferred.resume_session)!;
    expect(Date.parse(second.started_at)).toBeGreaterThanOrEqual(notBefore);
    await worker.stop();
  });

  it('a transient failure is retried with backoff until max_attempts, then fails', async () => {
    const worker = startWorker(t, ['--rescan-ms', '200', '--retry-delay-ms', '100']);
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await writeFile(join(t.root, 'spool', 'inbox', 'shaky.json'), JSON.stringify({ repo, task: 'transient glitch', max_attempts: 2 }));
    const { state, record } = await waitForFinished(t, 'shaky');
    // Retried once as a resume (whose prompt no longer starts with "transient"): it succeeds.
    expect(state).toBe('done');
    expect(record.attempts).toBe(1);
    await writeFile(join(t.root, 'spool', 'inbox', 'hopeless.json'), JSON.stringify({ repo, task: 'transient glitch', max_attempts: 1 }));
    const hopeless = await waitForFinished(t, 'hopeless');
    expect(hopeless.state).toBe('failed');
    expect(hopeless.record.result.error).toMatch(/stream disconnected/);
    await worker.stop();
  });
});
