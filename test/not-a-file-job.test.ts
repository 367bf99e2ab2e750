// A job whose file is not a regular file (a FIFO, a link, a directory) is that job to every command (see
// lookupJob): `wait` ends on it once the worker has rejected it, and `cancel` and recovery take it out of
// the queue whole, as the worker's rejection does (a directory can be neither unlinked nor linked); and no
// link planted in the spool (a loop) fails a command or the worker's start. Real CLI and worker processes.
import { mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, cliProcess, endSpoolTest, fakeCodex, jobsIn, makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { spoolLayout } from '../src/spool/layout.js';

let t: TempRoot;
beforeEach(async () => (t = await makeTempRoot()));
afterEach(() => endSpoolTest(t));

const job = (state: string, id: string) => spoolLayout(t.root).job(state as 'inbox', id);

describe('a job whose file is not a regular file', () => {
  // fails without the fix: `wait` looked for a regular file only, and waited for ever (here: its --timeout, exit 124)
  it('wait ends once the worker has rejected it, whatever it is (a FIFO, a directory, a dangling or looping link)', async () => {
    await execa('mkfifo', [job('inbox', 'f')]);
    await mkdir(job('inbox', 'd'));
    await symlink(join(t.dir, 'nowhere.json'), job('inbox', 'l'));
    await symlink(job('inbox', 'loop'), job('inbox', 'loop'));
    const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
    expect(once.stderr).toMatch(/4 job\(s\) failed or were rejected/);
    expect(await jobsIn(t, 'rejected')).toEqual(['d.json', 'f.json', 'l.json', 'loop.json']);
    const r = await cli(t, ['wait', 'f', 'd', 'l', 'loop', '--timeout', '20']);
    expect(r.stdout.split('\n').map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
      'f rejected',
      'd rejected',
      'l rejected',
      'loop rejected',
    ]);
    expect(r.code, r.stderr).toBe(1);
  });
});

// Seen: a FIFO, a directory or a link in done/ read as "succeeded" by status, result and wait (exit 0), as did
// a file of garbage or a job without the worker's result: the state's name stood in for the result.
describe('a file in done/ or failed/ that holds no result the worker wrote', () => {
  it('is never reported as a success: status says unknown, result and wait fail naming the file', async () => {
    await execa('mkfifo', [job('done', 'f')]);
    await mkdir(job('done', 'd'));
    await symlink(join(t.dir, 'nowhere.json'), job('done', 'l'));
    await writeFile(job('done', 'g'), 'garbage');
    await writeFile(job('done', 'n'), JSON.stringify({ repo: t.dir, task: 'no result' }));
    await writeFile(job('failed', 'x'), JSON.stringify({ repo: t.dir, task: 'no result', result: { status: 'succeeded!' } }));
    const ids = ['f', 'd', 'l', 'g', 'n', 'x'];
    const status = await cli(t, ['status', '--json', ...ids]);
    const jobs = (JSON.parse(status.stdout) as { jobs: { id: string; status: string; error: string }[] }).jobs;
    expect(jobs.map((j) => `${j.id} ${j.status}`)).toEqual(ids.map((id) => `${id} unknown`));
    expect(jobs[0]!.error).toBe('spool/done/f.json holds no result the worker wrote');
    for (const id of ids) {
      const r = await cli(t, ['result', id]);
      expect([r.code, r.stdout.split(' ').slice(0, 2).join(' '), r.stderr.trim()]).toEqual([
        1,
        `${id} unknown`,
        `codex-spool: job ${id} did not succeed (unknown)`,
      ]);
    }
    const w = await cli(t, ['wait', ...ids, '--timeout', '5']);
    expect([w.code, w.stdout.split('\n').map((l) => l.split(' ').slice(0, 2).join(' '))]).toEqual([1, ids.map((id) => `${id} unknown`)]);
  });
});

// Seen: with a FIFO in place of a running job's events.jsonl, status and logs waited for a writer for ever;
// a FIFO as the spool's policy file held every command.
describe("a run's file or the policy file that is a FIFO", () => {
  it('status and logs of a running job whose events.jsonl is a FIFO end at once', async () => {
    const run = '20261204-010101-abcdef01';
    await mkdir(join(t.root, 'runs', run), { recursive: true });
    await execa('mkfifo', [join(t.root, 'runs', run, 'events.jsonl')]);
    await writeFile(job('active', 'zz'), JSON.stringify({ repo: t.dir, task: 't', queued_at: 1, attempts: 0, run_id: run }));
    const status = await cliProcess(t, ['status', 'zz']);
    expect([status.code, status.stdout.split('\n')[1]?.split(/ +/).slice(0, 2)]).toEqual([0, ['zz', 'stale']]);
    const logs = await cliProcess(t, ['logs', 'zz']);
    expect([logs.code, logs.stdout]).toEqual([0, 'running -']);
  });

  it('a FIFO as the policy file is refused by every command, not waited on', async () => {
    await execa('mkfifo', [join(t.root, 'codex-spool.config.json')]);
    const r = await cliProcess(t, ['submit', '--repo', t.dir, '--task', 'x']);
    expect([r.code, r.stderr]).toEqual([
      2,
      `codex-spool: bad policy: refusing ${join(t.root, 'codex-spool.config.json')}: not a regular file`,
    ]);
  });
});

describe('cancel and recovery of a job whose file is a directory', () => {
  // fails without the fix: cancel filed failed/<id>.json, then could not unlink the directory it had moved into
  // active/ (EISDIR, exit 1); recovery could neither link it back nor unlink it, and it stayed there for good
  it.each([['inbox'], ['deferred']])(
    'cancel of one in %s rejects it, whole, as the worker would: no failed record, nothing left in active/',
    async (state) => {
      await mkdir(job(state, 'd'));
      await writeFile(join(job(state, 'd'), 'kept'), 'bytes of whoever made it');
      const r = await cli(t, ['cancel', 'd']);
      expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'codex-spool: d had already ended: rejected' });
      expect([await jobsIn(t, 'active'), await jobsIn(t, 'failed'), await jobsIn(t, 'rejected')]).toEqual([[], [], ['d.json']]);
      expect(await readFile(join(job('rejected', 'd'), 'kept'), 'utf8')).toBe('bytes of whoever made it');
      expect(JSON.parse(await readFile(spoolLayout(t.root).rejection('d'), 'utf8'))).toMatchObject({
        reason: 'unreadable',
        message: 'job file not a regular file (directory)',
      });
    },
  );

  it('the worker rejects one left in active/ (a claim cut short, or planted), as its claim would have', async () => {
    await mkdir(job('active', 'd'));
    const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
    expect(once.stderr).toContain('recovered d: rejected: job file not a regular file (directory)');
    expect(once.stderr).toContain('1 job(s) failed or were rejected');
    expect(once.code, once.stderr).toBe(1); // as for a job it claimed from the inbox and rejected
    expect([await jobsIn(t, 'active'), await jobsIn(t, 'rejected')]).toEqual([[], ['d.json']]);
  });
});

describe('a finished job whose file is not a regular file', () => {
  // fails without the fix: the search for a session's job stat-ed through links (ELOOP: submit exit 1, the worker set the job back)
  it('a looping link in done/ fails no follow-up by session id, at submit or in the worker', async () => {
    await symlink(job('done', 'loop'), job('done', 'loop'));
    const repo = await t.repo('r');
    const session = '0199a000-0000-7000-8000-000000000001';
    const r = await cli(t, ['submit', '--resume', session, '--repo', repo, '--task', 'go on', '--id', 'next']);
    expect(r.code, r.stderr).toBe(0);
    const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
    expect(once.code, once.stderr).toBe(0);
    expect(await jobsIn(t, 'done')).toEqual(['loop.json', 'next.json']);
  });

  it('retry of one in failed/ says it is no job record, not that only failed jobs can be retried', async () => {
    await mkdir(job('failed', 'd'));
    const r = await cli(t, ['retry', 'd']);
    expect(r).toMatchObject({
      code: 2,
      stderr: 'codex-spool: d: spool/failed/d.json is no job record (not a regular JSON file): nothing to retry',
    });
  });
});

// fails without the fix: the start's removal of abandoned temp files stat-ed through links (ELOOP: the worker exited 1)
it("a looping link named like a write's temp file does not stop the worker's start", async () => {
  const temp = join(spoolLayout(t.root).dir('inbox'), '.x.json.1.0000abcd.tmp');
  await symlink(temp, temp);
  await writeFile(job('inbox', 'j'), JSON.stringify({ repo: await t.repo('r'), task: 'x' }));
  const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
  expect(once.code, once.stderr).toBe(0);
  expect(await jobsIn(t, 'done')).toEqual(['j.json']);
});

// The server clock's probes (runs/.clock.<pid>.<hex>.tmp) of a worker killed while it asked were never swept.
it("the worker's start removes an hour-old temp file from runs/ as from the state directories, and a young one stays", async () => {
  const runs = join(t.root, 'runs');
  await mkdir(runs, { recursive: true });
  const [old, young] = ['.clock.1.0000abcd.tmp', '.clock.2.0000abcd.tmp'].map((n) => join(runs, n));
  await writeFile(old!, '.');
  await writeFile(young!, '.');
  const hoursAgo = new Date(Date.now() - 2 * 3_600_000);
  await utimes(old!, hoursAgo, hoursAgo);
  const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
  expect(once.stderr).toContain('removed 1 abandoned temp file(s) from runs/');
  expect((await readdir(runs)).filter((n) => n.startsWith('.clock'))).toEqual(['.clock.2.0000abcd.tmp']);
});

// fails without the fix: wait took the rejected file for the job and ended at once ("x rejected", exit 1)
it('wait on an id queued again after its rejection waits for the job status shows, not the old rejection', async () => {
  await writeFile(job('inbox', 'x'), 'not json');
  await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
  expect(await jobsIn(t, 'rejected')).toEqual(['x.json']);
  await writeFile(job('inbox', 'x'), JSON.stringify({ repo: await t.repo('r'), task: 'x' }));
  expect((await cli(t, ['status', 'x'])).stdout).toMatch(/^x +inbox /m);
  const waited = cli(t, ['wait', 'x', '--timeout', '60']);
  const once = await cli(t, ['worker', '--once', '--codex-bin', fakeCodex]);
  expect(once.code, once.stderr).toBe(0);
  const r = await waited;
  expect(r.stdout, r.stderr).toMatch(/^x succeeded exit=0 /);
  expect(r.code).toBe(0);
});
