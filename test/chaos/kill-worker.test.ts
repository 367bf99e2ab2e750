// Chaos 2: SIGKILL a worker again and again at random points (right after a claim, mid-run, while a
// result is filed, at a random moment) with jobs streaming in, restarting it each time, beside a second
// worker that is killed too. Nothing is lost, nothing is duplicated, recovered runs resume their session.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  projectRoot,
  quickLockStale,
  readIfExists,
  runningMeta,
  startWorker,
  waitFor,
  waitForFinished,
  type WorkerProcess,
} from '../helpers/spool-env.js';
import { readRunLog } from '../helpers/run-log.js';
import {
  CHAOS,
  audit,
  chaosCodex,
  chaosRoot,
  endChaosTest,
  figure,
  finishedCount,
  makeRepos,
  processesInGroups,
  readCalls,
  sleep,
  spoolDir,
  tag,
  writeJob,
} from './fixtures/chaos-kit.js';
import { WORKER_ARGS, modelCodex, modelRoot, taskOf } from './fixtures/model-kit.js';

const ROUNDS = 20;
const JOBS_PER_ROUND = 6;
const INITIAL_JOBS = 16;
type KillPoint = 'claim' | 'run' | 'finish' | 'random';
const POINTS: KillPoint[] = ['claim', 'run', 'finish', 'random'];

afterEach(endChaosTest);

/** The n-th job (1-based): every 9th is invalid (rejected), every 11th other one fails, the rest succeed. */
const kindOf = (n: number) => (n % 9 === 0 ? 'invalid' : n % 11 === 0 ? 'fail' : 'ok');

/** A deterministic PRNG (mulberry32), so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!CHAOS)('chaos: SIGKILL of workers', () => {
  it(`${ROUNDS} SIGKILLs at random points with jobs streaming in: 0 lost, 0 duplicated, recovered runs resume`, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const started = Date.now();
    const { t, log } = await chaosRoot();
    await quickLockStale(t);
    const repos = await makeRepos(t, 12);
    const ids: string[] = [];
    const submit = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const id = `k-${String(ids.length).padStart(3, '0')}`;
        ids.push(id);
        const secs = (0.2 + random() * 1.0).toFixed(2);
        await writeJob(t, id, {
          repo: repos[Math.floor(random() * repos.length)]!,
          task: `${tag(id)} sleep=${secs}${kindOf(ids.length) === 'fail' ? ' fail' : ''}`,
          max_attempts: 12, // interruptions are the point here: let every job get to its own end
          ...(kindOf(ids.length) === 'invalid' ? { timeout_s: 'soon' } : {}),
        });
      }
    };
    // Fast rescans so that recovery follows the 3 s stale time (quickLockStale) closely.
    const args = ['--concurrency', '2', '--rescan-ms', '500', '--grace-ms', '500'];
    const slots: WorkerProcess[] = [startWorker(t, args, chaosCodex), startWorker(t, args, chaosCodex)];
    await submit(INITIAL_JOBS);

    const kills: { round: number; slot: number; point: KillPoint; triggered: boolean; afterMs: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await submit(JOBS_PER_ROUND);
      const slot = Math.floor(random() * slots.length);
      const victim = slots[slot]!;
      const point = POINTS[round % POINTS.length]!;
      const roundStart = Date.now();
      const callsBefore = (await readCalls(log)).length;
      let triggered = false;
      const kill = () => {
        if (victim.child.exitCode === null && !victim.child.killed) victim.child.kill('SIGKILL');
      };
      // The trigger fires in the watcher callback itself: the kill lands within a millisecond or so.
      const watchers: FSWatcher[] = [];
      const fired = new Promise<void>((resolve) => {
        const onEvent = (match: (name: string) => boolean) => (_: string, name: string | Buffer | null) => {
          if (name && match(String(name))) {
            triggered = true;
            kill();
            resolve();
          }
        };
        if (point === 'claim')
          watchers.push(
            watch(
              spoolDir(t, 'active'),
              onEvent((n) => n.endsWith('.json.lock')),
            ),
          );
        if (point === 'finish') {
          for (const state of ['done', 'failed', 'rejected'] as const) {
            watchers.push(
              watch(
                spoolDir(t, state),
                onEvent((n) => n.includes('.json')),
              ),
            );
          }
        }
        if (point === 'run') {
          void (async () => {
            // Once a new Codex run has started, a random moment into it.
            const ok = await waitFor('a new run', async () => (await readCalls(log)).length > callsBefore, 4_000).catch(() => false);
            if (ok) {
              await sleep(random() * 400);
              triggered = true;
              kill();
            }
            resolve();
          })();
        }
        if (point === 'random') {
          void sleep(random() * 1_500).then(() => ((triggered = true), kill(), resolve()));
        }
      });
      await Promise.race([fired, sleep(4_000)]);
      for (const w of watchers) w.close();
      kill(); // the trigger did not come in time: kill now, at whatever point the worker is
      await victim.child;
      kills.push({ round, slot, point, triggered, afterMs: Date.now() - roundStart });
      slots[slot] = startWorker(t, args, chaosCodex);
      await sleep(100 + random() * 400);
    }
    const killPhaseSeconds = (Date.now() - started) / 1000;

    // Orphans wait out the 3 s stale time, then the live workers recover and finish everything.
    await waitFor('every job finished', async () => (await finishedCount(t)) === ids.length, 150_000).catch(() => null);
    const codes = await Promise.all(slots.map((w) => w.stop('SIGTERM')));
    await sleep(300);
    const calls = await readCalls(log);
    const a = await audit(t, ids, calls);
    const leftProcesses = processesInGroups(calls.map((c) => c.pid));
    // Temp files of atomic writes cut short by a kill (never cleaned up: reported, not failed on).
    const tmpLeft = (
      await Promise.all(
        (['inbox', 'active', 'done', 'failed', 'rejected'] as const).map(async (s) =>
          (await readdir(spoolDir(t, s)).catch(() => [])).filter((n) => n.startsWith('.')).map((n) => `${s}/${n}`),
        ),
      )
    ).flat();
    const byPoint = Object.fromEntries(POINTS.map((p) => [p, kills.filter((k) => k.point === p && k.triggered).length]));
    figure('20 SIGKILLs of workers', {
      seed,
      jobs: ids.length,
      kills: kills.length,
      killsOnClaim: byPoint.claim,
      killsMidRun: byPoint.run,
      killsWhileFiling: byPoint.finish,
      killsRandom: byPoint.random,
      killsUntriggered: kills.filter((k) => !k.triggered).length,
      calls: calls.length,
      resumedRuns: a.resumedRuns,
      freshRestarts: a.freshRestarts,
      done: a.done,
      failed: a.failed,
      lost: a.lost,
      duplicated: a.duplicated,
      leftover: a.leftover,
      rejected: a.rejected,
      orphanErrorFiles: a.orphanErrors,
      tmpFilesLeft: tmpLeft,
      processesLeft: leftProcesses,
      seconds: ((Date.now() - started) / 1000).toFixed(1),
      killPhaseSeconds: killPhaseSeconds.toFixed(1),
    });
    if (a.problems.length) console.log(`[chaos] problems:\n  ${a.problems.join('\n  ')}`);
    if (tmpLeft.length || a.orphanErrors.length)
      console.log(`[chaos] debris of killed writes: ${JSON.stringify([...tmpLeft, ...a.orphanErrors])}`);
    expect(codes).toEqual([0, 0]);
    expect(a.problems).toEqual([]);
    expect(a.lost).toEqual([]);
    expect(a.duplicated).toEqual([]);
    expect(a.leftover).toEqual([]);
    // The "fail" jobs fail, invalid ones are rejected; every other job gets done in the end, however often
    // it was interrupted.
    const want = (kind: string) => ids.filter((_, i) => kindOf(i + 1) === kind).length;
    expect([a.done, a.failed, a.rejected]).toEqual([want('ok'), want('fail'), want('invalid')]);
    // Not asserted here: that some run was resumed. A killed worker's Codex goes on in its own group and
    // usually ends before the 3 s stale time, and recovery then files that run (never runs it again), so
    // how many runs are resumed is up to timing (CI: 2, 1, then 0 of 5 mid-run kills). Every second run is
    // checked above (a.problems: a resume of the interrupted session, or a fresh start where none was
    // recorded); a resume after SIGKILL is proven by the hanging-Codex case below and by the model test.
    expect(leftProcesses).toEqual([]);
  }, 300_000);

  // Regression, in two steps. (1) proper-lockfile's stale takeover is stat → rmdir → mkdir, so two takers
  // that both saw the lock stale could both "hold" it (2-4 winners in 10 of 30 trials on 2 cores); tryLock
  // now lets one taker per stale lock instance try (src/spool/lock.ts). (2) The old form of this test let
  // each winner hold the lock for 300 ms and counted winners per trial; on a loaded machine it once counted
  // 2: a contender that started late took the lock after the first winner had released it (reproduced with
  // 10 busy loops on 2 cores: 4 of 40 trials, every second winner acquired 120-270 ms after the first one's
  // release, none while it held). What matters is that no two hold it at once, so now every winner holds
  // the lock until all four have answered: two WONs in a trial are two holders at the same time.
  // Input: per trial a lock dir 60 s old; 4 long-lived processes try it at the same instant, two via
  // isLocked → tryLock as recovery does, two via tryLock as a claim does. Expected: exactly one wins.
  it('of 4 workers taking over one stale lock at the same instant, exactly one holds it (200 trials)', async () => {
    const { t } = await chaosRoot();
    const taker = join(projectRoot, 'test', 'chaos', 'fixtures', 'lock-taker.mjs');
    const contenders = (['pair', 'pair', 'try', 'try'] as const).map((mode) => lineChild('node', [taker, mode]));
    try {
      const winners: number[] = [];
      const spreadsMs: number[] = [];
      const started = Date.now();
      for (let trial = 0; trial < 200; trial++) {
        const dir = join(t.dir, `trial-${trial}`);
        await mkdir(join(dir, 'job.json.lock'), { recursive: true });
        const old = new Date(Date.now() - 60_000);
        await utimes(join(dir, 'job.json.lock'), old, old); // its owner died a minute ago
        const startAt = Date.now() + 20; // time enough for the line to reach each contender
        const answers = (await Promise.all(contenders.map((c) => c.ask(`go ${dir} job.json ${startAt}`)))).map((a) => a.split(' '));
        expect(answers.filter(([a]) => a !== 'WON' && a !== 'lost')).toEqual([]);
        winners.push(answers.filter(([a]) => a === 'WON').length);
        const began = answers.map(([, t]) => Number(BigInt(t!) / 1000n) / 1000);
        spreadsMs.push(Math.max(...began) - Math.min(...began)); // how close together the four tries began
        await Promise.all(contenders.map((c) => c.ask('release')));
        if (winners.at(-1) !== 1) break; // shown: no need for more trials
      }
      const perTrial: Record<number, number> = {};
      for (const w of winners) perTrial[w] = (perTrial[w] ?? 0) + 1;
      const medianSpread = spreadsMs.sort((a, b) => a - b)[spreadsMs.length >> 1]!.toFixed(2);
      figure('stale lock takeover race', {
        trials: winners.length,
        winnersPerTrial: JSON.stringify(perTrial),
        medianStartSpreadMs: medianSpread,
        ms: Date.now() - started,
      });
      expect(winners.every((n) => n === 1)).toBe(true);
    } finally {
      for (const c of contenders) c.end();
    }
  }, 120_000);
});

/** A child process spoken to in lines: `ask` sends one and resolves with its next line of output. */
function lineChild(cmd: string, args: string[]) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: { resolve(line: string): void; reject(err: Error): void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.resolve(line));
  child.on('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${cmd} exited: ${code ?? signal}`));
  });
  return {
    ask: (line: string) =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(`${line}\n`);
      }),
    end: () => {
      child.stdin.end();
      child.kill();
    },
  };
}

describe.skipIf(!CHAOS)('chaos: recovery after SIGKILL reads only real events', () => {
  // Regression (fixed in 91732a0): recovery decided "the run completed" from the text `"type":"turn.completed"`
  // anywhere in a line of events.jsonl, and an MCP tool call's raw JSON arguments may hold exactly that, so a
  // run killed mid-turn was filed as succeeded and never resumed. Input: a run that reports such a tool call,
  // then works on; the worker and the run's whole group SIGKILLed (no turn.failed is written), a new worker.
  // Expected: the job resumed in its session and filed from that second run.
  it('a tool call whose raw arguments read {"type":"turn.completed"}, then SIGKILL: the job is resumed, not filed as succeeded', async () => {
    const { t, log } = await modelRoot();
    await quickLockStale(t);
    const [repo] = await makeRepos(t, 1);
    await writeJob(t, 'fake-end', { repo, task: taskOf('fake-end', 'mcpecho firstsleep=60') });
    const first = startWorker(t, WORKER_ARGS, modelCodex);
    const meta = await runningMeta(t, 'fake-end');
    const events = join(t.root, 'runs', meta.run_id, 'events.jsonl');
    await waitFor('the tool call and the next command reported', async () =>
      (await readIfExists(events))?.includes('"command":"sleep 60"'),
    );
    await first.stop('SIGKILL');
    process.kill(-meta.pid, 'SIGKILL'); // its stand-in, with the tool command, ends without a word
    startWorker(t, WORKER_ARGS, modelCodex);
    const { state, record } = await waitForFinished(t, 'fake-end', 60_000);
    const runs = await readRunLog(log);
    expect({ state, runs: runs.map((r) => [r.resumed, r.session]) }).toEqual({
      state: 'done',
      runs: [
        [false, meta.session_id],
        [true, meta.session_id],
      ],
    });
    expect(record.result.run_id).not.toBe(meta.run_id);
    expect(record.attempts).toBe(1);
  }, 90_000);
});
