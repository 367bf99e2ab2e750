// An impostor: a job file dropped into inbox/ under the id of a job that is running (active/), queued again
// (deferred/) or finished (done/). Every command that takes an id means the real job, `cancel` reaches the
// real run, and the worker rejects the impostor at once as `<id>~duplicate` (bytes kept, reason beside
// it), without waiting for the real job to end.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, jobsIn, runningMeta, startCli, startWorker, waitFor, waitForFinished, type TempRoot } from '../helpers/spool-env.js';
import { readRunLog } from '../helpers/run-log.js';
import { CHAOS, endChaosTest, makeRepos, sleep, spoolDir, writeJob } from './fixtures/chaos-kit.js';
import { killRuns, modelCodex, modelRoot, taskOf } from './fixtures/model-kit.js';

const logs: string[] = [];
afterEach(async () => {
  await endChaosTest();
  for (const log of logs.splice(0)) killRuns(await readRunLog(log));
});

const stateOf = (t: TempRoot, id: string) =>
  Promise.all((['active', 'deferred', 'done'] as const).map(async (s) => ((await jobsIn(t, s)).includes(`${id}.json`) ? s : null))).then(
    (found) => found.filter(Boolean).join(','),
  );

describe.skipIf(!CHAOS)('chaos: an inbox file with the id of another job', () => {
  it('while the real job runs, waits in deferred/ or is done: commands mean the real job, the impostor is rejected at once', async () => {
    const { t, log } = await modelRoot();
    logs.push(log);
    const repos = await makeRepos(t, 4);
    const worker = startWorker(t, ['--concurrency', '3', '--rescan-ms', '300', '--grace-ms', '500', '--retry-delay-ms', '200'], modelCodex);
    await writeJob(t, 'done-x', { repo: repos[0], task: taskOf('done-x', '') });
    await waitForFinished(t, 'done-x');
    await writeJob(t, 'wait-x', { repo: repos[1], task: taskOf('wait-x', 'usage=1 reset=600') });
    await waitFor('wait-x deferred', async () => (await stateOf(t, 'wait-x')) === 'deferred');
    await writeJob(t, 'run-x', { repo: repos[2], task: taskOf('run-x', 'sleep=60') });
    await writeJob(t, 'cancel-x', { repo: repos[3], task: taskOf('cancel-x', 'sleep=60') });
    const [runMeta, cancelMeta] = [await runningMeta(t, 'run-x'), await runningMeta(t, 'cancel-x')];
    const real = { 'done-x': 'done', 'wait-x': 'deferred', 'run-x': 'active', 'cancel-x': 'active' };
    const ids = Object.keys(real);

    // The worker paused (well within the lock's stale time) while the impostors arrive, so that the
    // commands below meet them in the inbox.
    worker.child.kill('SIGSTOP');
    const bytes = new Map(ids.map((id) => [id, `{"repo":${JSON.stringify(repos[0])},"task":"${taskOf(id, 'impostor')}"}`]));
    for (const id of ids) await writeFile(join(spoolDir(t, 'inbox'), `${id}.json`), bytes.get(id)!);
    const one = JSON.parse((await cli(t, ['status', '--json', ...ids])).stdout).jobs.map((j: any) => [j.id, j.state]);
    const all = JSON.parse((await cli(t, ['status', '--json'])).stdout)
      .jobs.filter((j: any) => ids.includes(j.id))
      .map((j: any) => [j.id, j.state]);
    const cancel = startCli(t, ['cancel', 'cancel-x', '--wait', '1']);
    const cancelled = await Promise.race([cancel.done, sleep(20_000).then(() => null)]);
    worker.child.kill('SIGCONT');
    expect(Object.fromEntries(one)).toEqual(real);
    expect(Object.fromEntries(all)).toEqual(real);
    // The request names the real run; the worker, paused, has not acted on it yet.
    expect({ code: cancelled?.code, out: cancelled?.stdout }).toEqual({ code: 4, out: 'cancel-x cancel requested\n' });

    const rejected = (id: string) => join(spoolDir(t, 'rejected'), `${id}~duplicate.json`);
    await waitFor('every impostor rejected', async () => (await jobsIn(t, 'inbox')).length === 0, 10_000);
    // At once: the real jobs are where they were (run-x runs 60 s, wait-x is due in 10 minutes).
    expect({ run: await stateOf(t, 'run-x'), wait: await stateOf(t, 'wait-x') }).toEqual({ run: 'active', wait: 'deferred' });
    for (const id of ids) {
      expect(await readFile(rejected(id), 'utf8')).toBe(bytes.get(id));
      const error = JSON.parse(await readFile(join(spoolDir(t, 'rejected'), `${id}~duplicate.error.json`), 'utf8'));
      expect(error).toMatchObject({ job_file: `${id}.json`, reason: 'duplicate_id' });
    }
    const { state, record } = await waitForFinished(t, 'cancel-x');
    expect({ state, status: record.result.status, run: record.result.run_id }).toEqual({
      state: 'failed',
      status: 'cancelled',
      run: cancelMeta.run_id,
    });
    expect(JSON.parse(await readFile(join(spoolDir(t, 'active'), 'run-x.json'), 'utf8')).run_id).toBe(runMeta.run_id);
    // Each real job ran once; no impostor ran.
    expect((await readRunLog(log)).map((r) => r.job).sort()).toEqual([...ids].sort());
  }, 120_000);
});
