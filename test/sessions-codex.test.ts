// Follow-ups continue the right session in the right tree, retries keep a job's history, worktrees are
// cleaned up: against the REAL Codex CLI and the mock Responses server on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codexBin, writeCodexHome } from './helpers/codex-home.js';
import { inputTexts, startMockResponses, type MockServer } from './helpers/mock-responses.js';
import {
  cli,
  killStarted,
  makeTempRoot,
  readJson,
  runningMeta,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
} from './helpers/spool-env.js';

let mock: MockServer;
let t: TempRoot;
let repo: string;
let other: string;

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args])
    .toString()
    .trim();
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
beforeAll(async () => {
  mock = await startMockResponses();
  t = await makeTempRoot();
  repo = await t.repo('main');
  other = await t.repo('other');
  git(repo, 'commit', '-q', '--allow-empty', '-m', 'base');
  await writeCodexHome(t.env.CODEX_HOME!, mock.url, [repo, other, join(t.root, 'spool', 'worktrees')]);
});
afterEach(killStarted);
afterAll(async () => {
  await mock.close();
  await t.cleanup();
});

describe('follow-ups run where their session ran', () => {
  it('a worktree job and its follow-up (submitted from another directory, no --repo) both run in the worktree', async () => {
    const worker = startWorker(t, [], codexBin());
    mock.script([
      { kind: 'shell', cmd: "printf 'hello\\n' > note.txt" },
      { kind: 'message', text: 'wrote note' },
    ]);
    expect((await cli(t, ['submit', '--repo', repo, '--task', 'Write note.txt', '--id', 'wt1', '--worktree'])).code).toBe(0);
    const first = await waitForFinished(t, 'wt1');
    expect(first.record.result.error).toBeNull();
    const wt = first.record.result.worktree;
    expect(wt).toEqual({ path: join(t.root, 'spool', 'worktrees', 'wt1'), branch: 'codex-spool/wt1' });

    mock.script([
      { kind: 'shell', cmd: "printf 'world\\n' >> note.txt" },
      { kind: 'message', text: 'appended' },
    ]);
    const before = mock.requests.length;
    const r = await cli(t, ['resume', 'wt1', '--task', 'Now append world', '--id', 'wt2'], { cwd: other });
    expect(r.code, r.stderr).toBe(0);
    const second = await waitForFinished(t, 'wt2');
    expect(second.record.result.error).toBeNull();
    expect(second.record.repo).toBe(repo); // what was submitted: the parent's repo, not the cwd
    expect(second.record.result.worktree).toEqual(wt);
    // The same session, with the first conversation; the file changed in the worktree only.
    expect(mock.requests[before]!.threadId).toBe(first.record.result.session_id);
    expect(inputTexts(mock.requests[before]!.body)).toContain('Write note.txt');
    expect(await readFile(join(wt.path, 'note.txt'), 'utf8')).toBe('hello\nworld\n');
    expect(await exists(join(repo, 'note.txt'))).toBe(false);
    // result names the worktree, and its continue line works there as printed.
    const result = await cli(t, ['result', 'wt2']);
    expect(result.stdout).toContain(`worktree branch ${wt.branch}`);
    expect(result.stdout).toContain(`continue: cd ${wt.path} && codex exec resume ${first.record.result.session_id}`);
    await worker.stop();
  });

  it("submit --resume JOB --task-file F from another directory continues in JOB's repo; another --repo is refused unless --force", async () => {
    const worker = startWorker(t, [], codexBin());
    mock.script([{ kind: 'message', text: 'base done' }]);
    await cli(t, ['submit', '--repo', repo, '--task', 'Base task', '--id', 'p1']);
    const base = await waitForFinished(t, 'p1');

    const refused = await cli(t, ['submit', '--resume', 'p1', '--repo', other, '--task', 'x', '--id', 'p-bad'], { cwd: other });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`job p1 ran in ${repo}`);

    mock.script([{ kind: 'message', text: 'continued' }]);
    const before = mock.requests.length;
    await writeFile(join(other, 'prompt.md'), 'Follow up');
    const r = await cli(t, ['submit', '--resume', 'p1', '--task-file', 'prompt.md', '--id', 'p2'], { cwd: other });
    expect(r.code, r.stderr).toBe(0);
    const follow = await waitForFinished(t, 'p2');
    expect(follow.record).toMatchObject({ repo, task: 'Follow up' });
    expect(follow.record.result.session_id).toBe(base.record.result.session_id);
    expect(inputTexts(mock.requests[before]!.body)).toContain('Base task');
    const summary = await readJson(follow.record.result.summary);
    expect(await readJson(summary.files.meta)).toMatchObject({ repo });

    // --force: the session goes on in the repo given.
    mock.script([{ kind: 'message', text: 'elsewhere' }]);
    const forced = await cli(t, ['submit', '--resume', 'p1', '--repo', other, '--force', '--task', 'Elsewhere', '--id', 'p3']);
    expect(forced.code, forced.stderr).toBe(0);
    const moved = await waitForFinished(t, 'p3');
    expect(moved.record.result.session_id).toBe(base.record.result.session_id);
    expect(await readJson((await readJson(moved.record.result.summary)).files.meta)).toMatchObject({ repo: other });
    await worker.stop();
  });

  it('resume <session uuid> (task from stdin) continues that session where its jobs ran: repo and worktree', async () => {
    const worker = startWorker(t, [], codexBin());
    const base = await readJson(join(t.root, 'spool', 'done', 'wt2.json')); // wt1's session, in wt1's worktree
    const session = base.result.session_id as string;
    mock.script([{ kind: 'message', text: 'by uuid' }]);
    const before = mock.requests.length;
    const r = await cli(t, ['resume', session, '--task', '-', '--id', 'u1'], { cwd: other, input: 'Task from stdin' });
    expect(r.code, r.stderr).toBe(0);
    const follow = await waitForFinished(t, 'u1');
    expect(follow.record.result.error).toBeNull();
    expect(follow.record).toMatchObject({ repo, resume: session, task: 'Task from stdin' });
    expect(follow.record.result).toMatchObject({ session_id: session, worktree: base.result.worktree });
    expect(await readJson((await readJson(follow.record.result.summary)).files.meta)).toMatchObject({ repo: base.result.worktree.path });
    expect(mock.requests[before]!.threadId).toBe(session);
    await worker.stop();
  });
});

describe('retries keep the job and its session', () => {
  it('retry of a cancelled job continues its session, told it is a retry; both runs stay readable', async () => {
    // A rescan honours a running job's cancel and lists deferred/, where retry queues it: not at 2 s, the default.
    const worker = startWorker(t, ['--rescan-ms', '200'], codexBin());
    mock.script([{ kind: 'shell', cmd: 'sleep 60' }]);
    await cli(t, ['submit', '--repo', repo, '--task', 'Long task', '--id', 'c1']);
    const meta = await runningMeta(t, 'c1');
    const events = join(t.root, 'runs', meta.run_id, 'events.jsonl');
    await waitFor('the command started', async () => (await readFile(events, 'utf8')).includes('sleep 60'));
    // A follow-up by session id while the job runs: it is placed in the job's repo (then cancelled, unrun).
    const early = await cli(t, ['resume', meta.session_id, '--task', 'x', '--id', 'c1-next', '--json'], { cwd: other });
    expect(early.code, early.stderr).toBe(0);
    expect((await cli(t, ['cancel', 'c1-next'])).code).toBe(0);
    expect((await readJson(join(t.root, 'spool', 'failed', 'c1-next.json'))).repo).toBe(repo);
    expect((await cli(t, ['cancel', 'c1'])).code).toBe(0);
    const cancelled = await waitForFinished(t, 'c1');
    expect(cancelled.record.result.status).toBe('cancelled');
    const session = cancelled.record.result.session_id as string;
    expect(session).toBe(meta.session_id);

    mock.script([{ kind: 'message', text: 'finished after retry' }]);
    const before = mock.requests.length;
    expect((await cli(t, ['retry', 'c1'])).code).toBe(0);
    const retried = await waitForFinished(t, 'c1');
    expect(retried.state).toBe('done');
    expect(retried.record.task).toBe('Long task');
    expect(retried.record.result.session_id).toBe(session);
    const request = mock.requests[before]!;
    expect(request.threadId).toBe(session);
    expect(inputTexts(request.body)).toContain('This is a retry: your previous run of this task was cancelled');
    expect(inputTexts(request.body)).toContain('sleep 60'); // the cancelled run's conversation
    expect(retried.record.runs).toHaveLength(2);
    expect((await readdir(join(t.root, 'spool', 'failed'))).filter((n) => n === 'c1.json' || n.startsWith('.c1.json'))).toEqual([]); // no hidden copy
    const result = await cli(t, ['result', 'c1']);
    expect(result.stdout).toMatch(/^run 1\/2 cancelled /m);
    expect(result.stdout).toMatch(/^run 2\/2 succeeded /m);
    await worker.stop();
  });

  it('after a transient retry the job file holds the task as submitted, and result lists both runs with their tokens', async () => {
    mock.script([
      { kind: 'http-error', status: 500 },
      { kind: 'message', text: 'recovered' },
    ]);
    mock.usage = { input_tokens: 1000, cached_tokens: 100, output_tokens: 50, reasoning_tokens: 5 };
    const worker = startWorker(t, ['--retry-delay-ms', '200', '--rescan-ms', '200'], codexBin());
    await cli(t, ['submit', '--repo', repo, '--task', 'Flaky service', '--id', 'tr1']);
    const { state, record } = await waitForFinished(t, 'tr1');
    expect(state).toBe('done');
    expect(record.task).toBe('Flaky service');
    expect(record.resume).toBeUndefined();
    expect(record.runs).toHaveLength(2);
    const result = await cli(t, ['result', 'tr1']);
    expect(result.stdout).toMatch(/^run 1\/2 failed .* tokens -$/m);
    expect(result.stdout).toMatch(/^run 2\/2 succeeded .* tokens 1000\/50$/m);
    expect(result.stdout).toContain('tokens this run: in 1000 (cached 100), out 50 (reasoning 5)');
    const json = JSON.parse((await cli(t, ['result', 'tr1', '--json'])).stdout);
    expect(json.runs.map((r: any) => r.run_id)).toEqual(record.runs);
    const usage = JSON.parse((await cli(t, ['usage', '--json'])).stdout);
    expect(usage.jobs.find((r: any) => r.key === 'tr1')).toMatchObject({ runs: 1, usage: { input_tokens: 1000, output_tokens: 50 } });
    await worker.stop();
  });
});

describe('worktree lifecycle', () => {
  it('prune removes a merged worktree and its branch, keeps an unmerged one without --force and says so', async () => {
    const worker = startWorker(t, [], codexBin());
    mock.script([{ kind: 'message', text: 'nothing to change' }]);
    await cli(t, ['submit', '--repo', repo, '--task', 'Look only', '--id', 'clean', '--worktree']);
    expect((await waitForFinished(t, 'clean')).state).toBe('done');
    mock.script([
      { kind: 'shell', cmd: "printf 'x\\n' > x.txt && git add x.txt && git -c user.name=t -c user.email=t@t commit -qm x" },
      { kind: 'message', text: 'committed' },
    ]);
    await cli(t, ['submit', '--repo', repo, '--task', 'Commit x', '--id', 'ahead', '--worktree']);
    expect((await waitForFinished(t, 'ahead')).state).toBe('done');
    await worker.stop();
    const list = await cli(t, ['worktree', 'list']);
    expect(list.stdout).toMatch(/^ahead +done +codex-spool\/ahead +1 unmerged commit$/m);
    expect(list.stdout).toMatch(/^clean +done +codex-spool\/clean +clean$/m);

    const pruned = await cli(t, ['prune', '--older-than', '0s', '--yes', '--json']);
    const report = JSON.parse(pruned.stdout);
    expect(report.worktrees).toContain('clean');
    expect(report.kept_worktrees).toContainEqual({ id: 'ahead', why: '1 unmerged commit' });
    expect(await exists(join(t.root, 'spool', 'worktrees', 'clean'))).toBe(false);
    expect(git(repo, 'branch', '--list', 'codex-spool/clean')).toBe('');
    expect(await exists(join(t.root, 'spool', 'worktrees', 'ahead', 'x.txt'))).toBe(true);

    // The kept one can still be merged (fast-forward), after which nothing is lost by removing it.
    expect((await cli(t, ['worktree', 'merge', 'ahead'])).code).toBe(0);
    expect(await readFile(join(repo, 'x.txt'), 'utf8')).toBe('x\n');
    expect((await cli(t, ['worktree', 'remove', 'ahead'])).code).toBe(0);
    expect(git(repo, 'branch', '--list', 'codex-spool/ahead')).toBe('');
    expect((await cli(t, ['worktree', 'remove', 'ahead'])).code).toBe(3);
  });

  it('worktree remove keeps uncommitted work unless --force; merge refuses a dirty tree', async () => {
    const wt = join(t.root, 'spool', 'worktrees', 'dirty');
    await mkdir(join(t.root, 'spool', 'worktrees'), { recursive: true });
    git(repo, 'worktree', 'add', '-q', '-b', 'codex-spool/dirty', wt, 'HEAD');
    execFileSync('sh', ['-c', `echo y > '${wt}/y.txt'`]);
    const kept = await cli(t, ['worktree', 'remove', 'dirty']);
    expect(kept.code).toBe(1);
    expect(kept.stderr).toContain('uncommitted changes');
    const merge = await cli(t, ['worktree', 'merge', 'dirty']);
    expect(merge.code).toBe(1);
    expect(merge.stderr).toContain('uncommitted changes');
    expect((await cli(t, ['worktree', 'remove', 'dirty', '--force'])).code).toBe(0);
    expect(await exists(wt)).toBe(false);
  });

  it('a worktree removed by hand leaves its branch to merge, remove and prune as before: never "no worktree" with commits behind', async () => {
    const worker = startWorker(t, [], codexBin());
    mock.script([
      { kind: 'shell', cmd: "printf 'y\\n' > y.txt && git add y.txt && git -c user.name=t -c user.email=t@t commit -qm y" },
      { kind: 'message', text: 'committed' },
      { kind: 'message', text: 'nothing to change' },
    ]);
    await cli(t, ['submit', '--repo', repo, '--task', 'Commit y', '--id', 'by-hand', '--worktree']);
    expect((await waitForFinished(t, 'by-hand')).state).toBe('done');
    await cli(t, ['submit', '--repo', repo, '--task', 'Look only', '--id', 'by-git', '--worktree']);
    expect((await waitForFinished(t, 'by-git')).state).toBe('done');
    await worker.stop();
    const wt = (id: string) => join(t.root, 'spool', 'worktrees', id);
    execFileSync('rm', ['-rf', wt('by-hand')]); // git still lists it (prunable)
    git(repo, 'worktree', 'remove', wt('by-git')); // git forgot it; its branch stays

    const kept = await cli(t, ['worktree', 'remove', 'by-hand']);
    expect([kept.code, kept.stderr]).toEqual([1, expect.stringContaining('1 unmerged commit')]);
    expect((await cli(t, ['worktree', 'merge', 'by-hand'])).code).toBe(0);
    expect(await readFile(join(repo, 'y.txt'), 'utf8')).toBe('y\n');
    expect((await cli(t, ['worktree', 'remove', 'by-hand'])).code).toBe(0);
    expect(git(repo, 'branch', '--list', 'codex-spool/by-hand')).toBe('');
    expect(git(repo, 'worktree', 'list')).not.toContain(wt('by-hand'));

    const report = JSON.parse((await cli(t, ['prune', '--older-than', '0s', '--yes', '--json'])).stdout);
    expect(report.worktrees).toContain('by-git');
    expect(git(repo, 'branch', '--list', 'codex-spool/by-git')).toBe('');
  });
});
