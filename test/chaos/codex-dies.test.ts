// Chaos 3: Codex itself dies (SIGKILL from outside) or hangs (no event for --stall-timeout): the job ends
// failed or timed_out, and the worker goes on with the next job, on the same repo.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startWorker, waitFor, waitForFinished, type TempRoot, type WorkerProcess } from '../helpers/spool-env.js';
import {
  CHAOS,
  audit,
  chaosCodex,
  chaosRoot,
  endChaosTest,
  figure,
  makeRepos,
  processesInGroups,
  readCalls,
  tag,
  writeJob,
} from './fixtures/chaos-kit.js';

afterEach(endChaosTest);

async function setup() {
  const { t, log } = await chaosRoot();
  const [repo] = await makeRepos(t, 1);
  return { t, log, repo: repo! };
}

/** The pid of the (first) Codex call of job `id`, once it has started. */
async function codexPid(log: string, id: string): Promise<number> {
  const call = await waitFor(`codex of ${id} started`, async () => (await readCalls(log)).find((c) => c.job === id), 20_000);
  return call.pid;
}

/** Whether the process has printed its first event: killed before, there is no session to speak of. */
async function sessionRecorded(t: TempRoot, id: string): Promise<boolean> {
  const text = readFileSync(join(t.root, 'spool', 'active', `${id}.json`), 'utf8');
  const runId = (JSON.parse(text) as { run_id?: string }).run_id;
  if (!runId) return false;
  const meta = JSON.parse(readFileSync(join(t.root, 'runs', runId, 'meta.json'), 'utf8')) as { session_id: string | null };
  return meta.session_id !== null;
}

/**
 * Five rounds on one repo: a victim job, then a quick job behind it. `act` does the harm once the victim
 * runs and returns when the clock starts; the victim must end failed with one of `statuses`, the quick
 * job done. Returns the job ids, seconds from the harm to the victim's end, and the victims' statuses.
 */
async function fiveRounds(
  t: TempRoot,
  repo: string,
  r: { prefix: string; task: (i: number) => string; act: (victim: string) => Promise<void>; statuses: string[]; timeoutMs: number },
) {
  const ids: string[] = [];
  const seconds: number[] = [];
  const statuses: string[] = [];
  for (let i = 0; i < 5; i++) {
    const victim = `${r.prefix}-${i}`;
    const next = `after-${r.prefix}-${i}`;
    ids.push(victim, next);
    await writeJob(t, victim, { repo, task: `${tag(victim)} ${r.task(i)}` });
    await writeJob(t, next, { repo, task: `${tag(next)} quick` });
    await r.act(victim);
    const from = Date.now();
    const end = await waitForFinished(t, victim, r.timeoutMs);
    seconds.push((Date.now() - from) / 1000);
    expect(end.state).toBe('failed');
    expect(r.statuses).toContain(end.record.result.status);
    statuses.push(end.record.result.status);
    expect((await waitForFinished(t, next, 20_000)).state).toBe('done');
  }
  return { ids, seconds, statuses };
}

/** After five rounds: the worker stops cleanly; 5 done, 5 failed, none lost or duplicated, no process left. */
async function expectFiveAndFive(
  t: TempRoot,
  worker: WorkerProcess,
  log: string,
  name: string,
  ids: string[],
  extra: Record<string, unknown>,
) {
  expect(await worker.stop()).toBe(0);
  const calls = await readCalls(log);
  const a = await audit(t, ids, calls);
  const left = processesInGroups(calls.map((c) => c.pid));
  figure(name, { jobs: ids.length, done: a.done, failed: a.failed, lost: a.lost, duplicated: a.duplicated, ...extra, processesLeft: left });
  expect(a.problems).toEqual([]);
  expect([a.lost, a.duplicated, a.leftover]).toEqual([[], [], []]);
  expect([a.done, a.failed]).toEqual([5, 5]);
  expect(left).toEqual([]);
  return calls;
}

/** Kills `pid` (negative: its group) once the victim's session is recorded. */
const killAfterSession = (t: TempRoot, log: string, group: boolean) => async (victim: string) => {
  const pid = await codexPid(log, victim);
  await waitFor('session recorded', () => sessionRecorded(t, victim).catch(() => false));
  process.kill(group ? -pid : pid, 'SIGKILL');
};

describe.skipIf(!CHAOS)('chaos: Codex killed or hanging', () => {
  it('Codex SIGKILLed from outside (5 times, its process group too): each job ends failed, the next job on the repo runs', async () => {
    const { t, log, repo } = await setup();
    const worker = startWorker(t, ['--concurrency', '1', '--grace-ms', '500'], chaosCodex);
    // As the OOM killer or a user would: Codex and its tool command.
    const r = await fiveRounds(t, repo, {
      prefix: 'killed',
      task: () => 'sleep=30',
      act: killAfterSession(t, log, true),
      statuses: ['failed'],
      timeoutMs: 20_000,
    });
    const calls = await expectFiveAndFive(t, worker, log, 'Codex group SIGKILLed', r.ids, {
      kills: 5,
      maxSecondsKillToFailed: Math.max(...r.seconds).toFixed(2),
    });
    expect(calls).toHaveLength(10);
  });

  it('Codex process alone SIGKILLed while its tool command runs on (5 times): each job ends failed or timed_out, the next job runs', async () => {
    // As happens when Codex crashes or is OOM-killed: its tool command (here `sleep 30`) lives on, holding
    // Codex's stdout open. --stall-timeout 3 bounds how long the worker may wait for it.
    const { t, log, repo } = await setup();
    const worker = startWorker(t, ['--concurrency', '1', '--grace-ms', '500', '--stall-timeout', '3'], chaosCodex);
    const r = await fiveRounds(t, repo, {
      prefix: 'killed',
      task: () => 'sleep=30',
      act: killAfterSession(t, log, false),
      statuses: ['failed', 'timed_out'],
      timeoutMs: 40_000,
    });
    await expectFiveAndFive(t, worker, log, 'Codex process SIGKILLed, tool command left', r.ids, {
      kills: 5,
      statuses: r.statuses.join('/'),
      maxSecondsKillToFiled: Math.max(...r.seconds).toFixed(2),
    });
  });

  // Regression: execa settles only once Codex has exited AND its pipes have closed; when Codex died alone
  // while a tool command ran, that command held the pipes open and the job sat in active/ until the command
  // ended or --stall-timeout (600 s) fired. The runner now stops reading once Codex has exited.
  // Input: default worker, job "sleep=30", SIGKILL of the Codex pid only. Expected: failed/ within 8 s.
  it('Codex SIGKILLed alone under the default stall timeout: the job is filed within 8 s', async () => {
    const { t, log, repo } = await setup();
    startWorker(t, ['--concurrency', '1', '--grace-ms', '500'], chaosCodex);
    await writeJob(t, 'crashed', { repo, task: `${tag('crashed')} sleep=30` });
    const pid = await codexPid(log, 'crashed');
    try {
      await waitFor('session recorded', () => sessionRecorded(t, 'crashed').catch(() => false));
      process.kill(pid, 'SIGKILL');
      expect((await waitForFinished(t, 'crashed', 8_000)).state).toBe('failed');
    } finally {
      try {
        process.kill(-pid, 'SIGKILL'); // the orphaned `sleep 30`
      } catch {
        // already gone
      }
    }
  });

  it('Codex hanging with --stall-timeout 1 (5 times): each job ends timed_out, the next job on the repo runs', async () => {
    const { t, log, repo } = await setup();
    const worker = startWorker(t, ['--concurrency', '1', '--grace-ms', '500', '--stall-timeout', '1'], chaosCodex);
    // Odd rounds hang inside a tool command's silence, even rounds right after thread.started.
    const r = await fiveRounds(t, repo, {
      prefix: 'hang',
      task: (i) => (i % 2 ? 'sleep=60' : 'hang'),
      act: async () => {},
      statuses: ['timed_out'],
      timeoutMs: 20_000,
    });
    const calls = await expectFiveAndFive(t, worker, log, 'Codex hanging', r.ids, {
      hangs: 5,
      maxSecondsToTimedOut: Math.max(...r.seconds).toFixed(2),
    });
    expect(calls).toHaveLength(10);
  });
});
