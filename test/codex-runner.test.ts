// The Codex runner under a Codex that misbehaves (test/fixtures/codex-unruly), the worker's duration
// options, and --on-done: each through the real worker as a child process.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runOnDone } from '../src/worker/on-done.js'; // OLD
import {
  cli,
  cliProcess,
  endSpoolTest,
  jobsIn,
  makeTempRoot,
  projectRoot,
  readIfExists,
  readJson,
  startWorker,
  waitFor,
  waitForFinished,
  type TempRoot,
} from './helpers/spool-env.js';

const unruly = join(projectRoot, 'test', 'fixtures', 'codex-unruly');

let t: TempRoot;
let repo: string;
/** Where the test's stray processes note their pids, so that the test ends them (by pid) and checks. */
let pidsFile: string;

beforeEach(async () => {
  t = await makeTempRoot();
  repo = await t.repo('r');
  pidsFile = join(t.dir, 'pids');
  t.env.UNRULY_PIDS = pidsFile;
  t.env.PIDS = pidsFile;
});
afterEach(async () => {
  for (const pid of await strayPids()) kill(pid);
  await endSpoolTest(t);
});

const strayPids = async () => ((await readIfExists(pidsFile)) ?? '').split('\n').filter(Boolean).map(Number);
const alive = (pid: number) => kill(pid, 0);
function kill(pid: number, signal: NodeJS.Signals | 0 = 'SIGKILL'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
/** Drops a job into the inbox once the worker has made it. */
async function submit(id: string, task: string): Promise<void> {
  const inbox = join(t.root, 'spool', 'inbox');
  await waitFor('the inbox', () =>
    stat(inbox).then(
      () => true,
      () => false,
    ),
  );
  await writeFile(join(inbox, `${id}.json`), JSON.stringify({ repo, task }));
}

describe('a run ends when Codex exits, whatever holds its pipes', () => {
  for (const pipe of ['stdout', 'stderr']) {
    it(`a process that left Codex's group and holds its ${pipe} does not keep the job in active/`, async () => {
      const worker = startWorker(t, [], unruly);
      await submit('held', `hold=${pipe}`);
      const { state, record } = await waitForFinished(t, 'held', 20_000);
      expect(state).toBe('done');
      expect(record.result.final_message).toBe('unruly done');
      expect(await jobsIn(t, 'active')).toEqual([]);
      // The premise: the holder outlived the run, its pipe still open.
      const [holder] = await strayPids();
      expect(alive(holder!)).toBe(true);
      await worker.stop();
      kill(holder!);
      await waitFor('the holder gone', () => !alive(holder!), 5_000);
    });
  }
});

describe('whatever Codex prints, the worker survives and result files stay small', () => {
  it('a 50 MB line: the worker (heap capped below it) lives on, the bytes reach events.jsonl, the next lines are parsed', async () => {
    // A heap too small for the line as one string: reading it whole kills the worker.
    t.env.NODE_OPTIONS = '--max-old-space-size=40';
    const worker = startWorker(t, [], unruly);
    const flood = 50 * 1024 * 1024;
    await submit('flood', `flood=${flood}`);
    const { state, record } = await waitForFinished(t, 'flood', 60_000);
    expect(state).toBe('done');
    expect(record.result.final_message).toBe('unruly done');
    const summary = await readJson(record.result.summary);
    expect(summary.session_id).toMatch(/^[0-9a-f-]{36}$/); // the line before the flood was parsed
    expect((await stat(summary.files.events)).size).toBeGreaterThan(flood);
    // The worker still takes jobs.
    await submit('after', 'plain');
    expect((await waitForFinished(t, 'after', 20_000)).state).toBe('done');
    expect(worker.child.exitCode).toBeNull();
    await worker.stop();
  });

  it('a 5 MB final message: cut to 64 KiB in the job result and summary.json, whole in last-message.txt', async () => {
    const worker = startWorker(t, [], unruly);
    const size = 5 * 1024 * 1024;
    await submit('chatty', `message=${size}`);
    const { state, record } = await waitForFinished(t, 'chatty', 30_000);
    expect(state).toBe('done');
    const summaryFile = record.result.summary as string;
    const lastMessage = join(summaryFile, '..', 'last-message.txt');
    expect(record.result.final_message).toBe(`${'m'.repeat(64 * 1024)}\n… [cut after 65536 bytes; the whole text is in ${lastMessage}]`);
    expect((await stat(summaryFile)).size).toBeLessThan(100 * 1024);
    expect((await stat(join(t.root, 'spool', 'done', 'chatty.json'))).size).toBeLessThan(100 * 1024);
    expect((await stat(lastMessage)).size).toBe(size);
    // Read through a pipe, as a caller reads it: the CLI exits only once all of its output is out.
    const shown = await cliProcess(t, ['result', 'chatty']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(record.result.final_message);
    await worker.stop();
  });

  it('a 200 KiB task goes on stdin: it runs although Codex reads only its first line, and argv stays small', async () => {
    const worker = startWorker(t, [], unruly);
    await submit('long', `plain\n${'y'.repeat(200 * 1024)}`);
    const { state, record } = await waitForFinished(t, 'long', 20_000);
    expect(state).toBe('done');
    const meta = await readJson(join(record.result.summary, '..', 'meta.json'));
    expect(meta.argv.at(-1)).toBe('-');
    expect(JSON.stringify(meta.argv).length).toBeLessThan(1000);
    await worker.stop();
  });
});

describe("Codex's task survives its worker", () => {
  it('a worker killed as soon as Codex is started: Codex still reads the whole 1 MiB task (never a part, never nothing)', async () => {
    // Larger than a pipe's or socket pair's buffers (about 210 KiB got through), which would hold a smaller task whole.
    await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { max_job_bytes: 2 * 1024 * 1024 } }), {
      mode: 0o600,
    });
    // A Codex that reads its stdin only once the worker is gone, and notes how many bytes it got.
    const codex = join(t.dir, 'late-reader');
    const got = join(t.dir, 'got');
    await writeFile(
      codex,
      `#!/usr/bin/env bash\n[ "$1" = --version ] && { echo codex-cli 0.0.0-late; exit 0; }\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.05; done\nwc -c > ${got}.tmp && mv ${got}.tmp ${got}\n`,
      { mode: 0o755 },
    );
    const worker = startWorker(t, ['--skip-codex-check'], codex);
    await submit('big', `plain\n${'y'.repeat(1024 * 1024)}`);
    const meta = await waitFor(
      'Codex started',
      async () => {
        const active = await readIfExists(join(t.root, 'spool', 'active', 'big.json'));
        const runId = active && JSON.parse(active).run_id;
        const m = runId && (await readIfExists(join(t.root, 'runs', runId, 'meta.json')));
        return m && JSON.parse(m).pid ? JSON.parse(m) : null;
      },
      60_000,
    );
    worker.child.kill('SIGKILL');
    await worker.child;
    expect(Number(await waitFor('Codex read its stdin', () => readIfExists(got), 60_000))).toBe(Buffer.byteLength(meta.task));
  }, 120_000);
});

describe('worker durations are bounded (a Node timer holds at most 2^31-1 ms)', () => {
  const cases: [string, string, number][] = [
    ['--default-timeout', '3000000', 2147483],
    ['--stall-timeout', '2147484', 2147483],
    ['--grace-ms', '2147483648', 2147483647],
    ['--settle-ms', '1000000000000', 2147483647],
    ['--reject-after-ms', '99999999999', 2147483647],
    ['--rescan-ms', '2147483648', 2147483647],
    ['--retry-delay-ms', '2147483648', 2147483647],
    ['--poll', '2147483648', 2147483647],
  ];
  it.each(cases)('%s %s is a usage error naming the flag and the bound', async (flag, value, max) => {
    const r = await cli(t, ['worker', '--once', '--codex-bin', unruly, flag, value]);
    expect(r.code).toBe(2);
    const unit = flag.endsWith('-timeout') ? 's' : 'ms';
    expect(r.stderr).toContain(`${flag} must be above 0 and at most ${max} ${unit} (a timer holds at most 2^31-1 ms), got "${value}"`);
  });

  it('a duration with a unit is read as written; above the bound, or without a number, it is refused', async () => {
    const over = await cli(t, ['worker', '--once', '--codex-bin', unruly, '--default-timeout', '25d']);
    expect([over.code, over.stderr]).toEqual([
      2,
      'codex-spool: --default-timeout must be above 0 and at most 2147483 s (a timer holds at most 2^31-1 ms), got "25d"',
    ]);
    const month = await cli(t, ['worker', '--once', '--codex-bin', unruly, '--stall-timeout', '1mo']);
    expect([month.code, month.stderr]).toEqual([
      2,
      'codex-spool: --stall-timeout: "1mo": months are not accepted (m is minutes); write days, e.g. 30d',
    ]);
    const ok = await cli(t, [
      'worker',
      '--once',
      '--codex-bin',
      unruly,
      '--default-timeout',
      '24d',
      '--stall-timeout',
      '10m',
      '--grace-ms',
      '2s',
      '--poll',
      '1s',
    ]);
    expect(ok.code).toBe(0);
  });

  it('the largest value of each is accepted', async () => {
    const args = cases.flatMap(([flag, , max]) => [flag, String(max)]);
    const r = await cli(t, ['worker', '--once', '--codex-bin', unruly, ...args]);
    expect(r.stderr.split('\n')[0]).toBe(`worker: ${t.root} concurrency 2, codex-cli 0.0.0-unruly`);
    expect(r.code).toBe(0);
  });
});

describe('--on-done never holds a job slot or a repo', () => {
  it('a command that leaves a child behind (sleep 140 &) does not delay the next job on the repo', async () => {
    const onDone = 'echo "on-done says $CODEX_SPOOL_JOB_ID"; sleep 140 & echo $! >> "$PIDS"; true';
    const worker = startWorker(t, ['--concurrency', '1', '--on-done', onDone], unruly);
    await submit('first', 'plain');
    await submit('second', 'plain');
    expect((await waitForFinished(t, 'first', 20_000)).state).toBe('done');
    expect((await waitForFinished(t, 'second', 20_000)).state).toBe('done');
    // The first job's on-done child was still running when the second job on that repo had finished.
    const pids = await waitFor('both on-done children started', async () => ((await strayPids()).length === 2 ? strayPids() : null));
    expect(pids.every(alive)).toBe(true);
    await waitFor('on-done output in the worker log', () => worker.log().includes('on-done for second: on-done says second'));
    // A stopped worker ends its on-done commands: nothing it started outlives it.
    await worker.stop();
    expect(worker.log()).toContain('on-done for first still running as the worker stops: stopping its process group');
    await waitFor('no sleep left', () => pids.every((pid) => !alive(pid)), 5_000);
  });

  it('with --once, the worker waits for its on-done command before it exits', async () => {
    await mkdir(join(t.root, 'spool', 'inbox'), { recursive: true });
    await submit('once', 'plain');
    const marker = join(t.dir, 'on-done-ran');
    const r = await cli(t, ['worker', '--once', '--codex-bin', unruly, '--on-done', `sleep 0.5; echo "$CODEX_SPOOL_STATUS" > ${marker}`]);
    expect(r.code).toBe(0);
    expect(await readIfExists(marker)).toBe('succeeded\n');
  });

  it('at its timeout the whole process group goes, the child it left included; output is logged, bounded', async () => {
    const lines: string[] = [];
    const command = `printf 'hi\\033[2J\\n'; sleep 140 & echo $! >> "${pidsFile}"; seq 1 10000; sleep 0.2; echo late`;
    const end = { id: 'j', state: 'done', status: 'succeeded', sessionId: null, summary: null, jobFile: '/x' };
    await runOnDone(command, end, (line) => lines.push(line), 1_000);
    const [pid] = await waitFor('the child started', async () => ((await strayPids()).length ? strayPids() : null));
    expect(alive(pid!)).toBe(true); // runOnDone returned; the command and its child run on
    await waitFor(
      'the timeout reported',
      () => lines.includes('on-done for j still running after 1000 ms: stopping its process group'),
      10_000,
    );
    await waitFor('the child killed', () => !alive(pid!), 10_000);
    await waitFor('the output closed', () => lines.at(-1)?.includes('more bytes of output not shown'), 10_000);
    expect(lines[0]).toBe('on-done for j: hi\\x1b[2J'); // made safe for the log
    expect(lines.at(-1)).toMatch(/^on-done for j: \(\d+ more bytes of output not shown\)$/);
    expect(lines).not.toContain('on-done for j: late'); // past the size cap
    expect(lines.join('\n').length).toBeLessThan(8 * 1024 + lines.length * 20);
  });
});
