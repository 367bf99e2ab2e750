// `codex-spool submit --batch`: JSONL in, each valid line queued once however often the batch is submitted;
// then real workers (fake codex) run what was queued, each job exactly once.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { expandId, parseBatch } from '../src/spool/batch.js';
import { cli, endSpoolTest, fakeCodexSpool, jobsIn, readJson, startWorker, type TempRoot } from './helpers/spool-env.js';

let t: TempRoot;
let repo: string;
let calls: () => Promise<string[]>;

beforeEach(async () => ({ t, repo, calls } = await fakeCodexSpool()));
afterEach(() => endSpoolTest(t));
const jsonl = (jobs: object[]) => `${jobs.map((j) => JSON.stringify(j)).join('\n')}\n`;

async function writeBatch(name: string, text: string): Promise<string> {
  const path = join(t.dir, name);
  await writeFile(path, text);
  return path;
}

/** Runs a `worker --once` to its end and returns its exit code. */
async function runOnce(extra: string[] = []) {
  const worker = startWorker(t, ['--once', ...extra]);
  const r = await worker.child;
  return { code: r.exitCode, log: worker.log() };
}

describe('submit --batch', () => {
  it('the same batch submitted twice queues each job once; a worker --once then runs them all; again: nothing added', async () => {
    const other = await t.repo('other');
    const jobs = [
      { id: 'fix-a', repo, task: 'fix a' },
      { id: 'fix-b', repo: other, task: 'fix b', sandbox: 'workspace-write', timeout_s: 600 },
      { id: 'fix-c', repo, task: 'fix c', args: ['--skip-git-repo-check'] },
    ];
    const batch = await writeBatch('jobs.jsonl', jsonl(jobs));

    const first = await cli(t, ['submit', '--batch', batch]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('submitted 3, skipped 0 (already queued or done), invalid 0');
    expect(await jobsIn(t, 'inbox')).toEqual(['fix-a.json', 'fix-b.json', 'fix-c.json']);
    const { id: _, ...specB } = jobs[1]!;
    expect(await readJson(join(t.root, 'spool', 'inbox', 'fix-b.json'))).toEqual(specB); // the job without its id

    const second = await cli(t, ['submit', '--batch', batch]);
    expect(second.code).toBe(0);
    expect(second.stdout.split('\n')).toEqual([
      'line 1: fix-a skipped, already in spool/inbox',
      'line 2: fix-b skipped, already in spool/inbox',
      'line 3: fix-c skipped, already in spool/inbox',
      'submitted 0, skipped 3 (already queued or done), invalid 0',
    ]);
    expect(await jobsIn(t, 'inbox')).toHaveLength(3);

    const worker = await runOnce();
    expect(worker.code).toBe(0);
    expect(await jobsIn(t, 'done')).toEqual(['fix-a.json', 'fix-b.json', 'fix-c.json']);
    expect(await jobsIn(t, 'inbox')).toEqual([]);
    expect(await jobsIn(t, 'active')).toEqual([]);
    expect(await calls()).toHaveLength(3);

    // cron runs the same batch again: everything is done, nothing is queued twice.
    const third = await cli(t, ['submit', '--batch', batch, '--json']);
    expect(third.code).toBe(0);
    const report = JSON.parse(third.stdout);
    expect(report).toMatchObject({ submitted: 0, skipped: 3, invalid: 0 });
    expect(report.results.map((r: { state: string }) => r.state)).toEqual(['done', 'done', 'done']);
    expect(await jobsIn(t, 'inbox')).toEqual([]);
    expect((await runOnce()).code).toBe(0);
    expect(await calls()).toHaveLength(3);
  });

  it('bad lines are reported with their line numbers; the good ones are still queued; exit 2', async () => {
    const lines = [
      JSON.stringify({ id: 'good-1', repo, task: 'one' }), // 1
      '{"id": "broken", "repo": ', // 2 not JSON
      '', // 3 blank: ignored
      JSON.stringify({ id: 'colour', repo, task: 'x', colour: 'red' }), // 4 unknown field
      JSON.stringify({ id: '../escape', repo, task: 'x' }), // 5 bad id
      JSON.stringify({ repo, task: 'no id' }), // 6 missing id
      JSON.stringify({ id: 'relative', repo: 'src/app', task: 'x' }), // 7 relative repo
      JSON.stringify({ id: 'gone', repo: join(t.dir, 'nowhere'), task: 'x' }), // 8 repo missing
      JSON.stringify({ id: 'good-1', repo, task: 'same id again' }), // 9 duplicate id in the batch
      '[1, 2]', // 10 not an object
      `{"id":"proto","repo":${JSON.stringify(repo)},"task":"x","__proto__":{"polluted":true}}`, // 11
      JSON.stringify({ id: 'good-2', repo, task: 'two', model: 'gpt-5' }), // 12
    ];
    const batch = await writeBatch('mixed.jsonl', lines.join('\r\n'));
    const r = await cli(t, ['submit', '--batch', batch]);
    expect(r.code).toBe(2);
    const out = r.stdout.split('\n');
    expect(out).toHaveLength(10);
    expect(out[0]).toMatch(/^line 2: invalid: not JSON/);
    expect(out[1]).toMatch(/^line 4: invalid \(colour\): .*colour/);
    expect(out[2]).toMatch(/^line 5: invalid: id: /);
    expect(out[3]).toBe('line 6: invalid: missing "id"');
    expect(out[4]).toMatch(/^line 7: invalid \(relative\): repo: must be an absolute path/);
    expect(out[5]).toMatch(/^line 8: invalid \(gone\): repo_missing: repo .*nowhere is not an existing directory/);
    expect(out[6]).toMatch(/^line 9: invalid \(good-1\): id "good-1" is also on line 1/);
    expect(out[7]).toBe('line 10: invalid: not a JSON object');
    expect(out[8]).toMatch(/^line 11: invalid \(proto\): .*__proto__/);
    expect(out[9]).toBe('submitted 2, skipped 0 (already queued or done), invalid 9');
    expect(r.stderr).toMatch(/9 invalid line/);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(await jobsIn(t, 'inbox')).toEqual(['good-1.json', 'good-2.json']);
    expect((await readJson(join(t.root, 'spool', 'inbox', 'good-1.json'))).task).toBe('one');

    // Fixing nothing and running again: the good ones are skipped, the bad ones still reported.
    const again = await cli(t, ['submit', '--batch', batch, '--json']);
    expect(again.code).toBe(2);
    const report = JSON.parse(again.stdout);
    expect(report).toMatchObject({ submitted: 0, skipped: 2, invalid: 9 });
    expect(report.results.filter((x: { status: string }) => x.status === 'invalid').map((x: { line: number }) => x.line)).toEqual([
      2, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
  });

  it('reads the batch from stdin with "-"', async () => {
    const input = jsonl([
      { id: 'in-1', repo, task: 'from stdin' },
      { id: 'in-2', repo, task: 'from stdin too' },
    ]);
    const run = () => cli(t, ['submit', '--batch', '-', '--json'], { input });
    const r = await run();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ submitted: 2, skipped: 0, invalid: 0 });
    expect(await jobsIn(t, 'inbox')).toEqual(['in-1.json', 'in-2.json']);
    const again = await run();
    expect(JSON.parse(again.stdout)).toMatchObject({ submitted: 0, skipped: 2, invalid: 0 });
  });

  it('exactly one of --task (or --review) and --batch', async () => {
    const batch = await writeBatch('one.jsonl', jsonl([{ id: 'x', repo, task: 'x' }]));
    const neither = await cli(t, ['submit']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/one of --task, --task-file, --review or --batch is required/);
    const both = await cli(t, ['submit', '--task', 'x', '--batch', batch]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--batch.*cannot be used with.*--task/);
    const withArgs = await cli(t, ['submit', '--batch', batch, '--', '--skip-git-repo-check']);
    expect(withArgs.code).toBe(2);
    const missing = await cli(t, ['submit', '--batch', join(t.dir, 'no-such.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read batch/);
    expect(await jobsIn(t, 'inbox')).toEqual([]);
    // --task alone still works as before.
    const single = await cli(t, ['submit', '--repo', repo, '--task', 'single', '--id', 'single']);
    expect(single.code).toBe(0);
    expect(await jobsIn(t, 'inbox')).toEqual(['single.json']);
  });
});

describe('cron: a fresh job per period, and what --once tells cron', () => {
  it('an id with {date} and {time} is filled at submit (local time): the same period skips it, the job runs once', async () => {
    t.env.TZ = 'UTC';
    const batch = await writeBatch(
      'cron.jsonl',
      jsonl([
        { id: 'nightly-deps-{date}', repo, task: 'deps' },
        { id: 'every-{date}T{time}', repo, task: 'tick' },
      ]),
    );
    const ids = (d: Date) => {
      const iso = d.toISOString();
      return [`nightly-deps-${iso.slice(0, 10)}`, `every-${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}`];
    };
    const before = ids(new Date());
    const first = JSON.parse((await cli(t, ['submit', '--batch', batch, '--json'])).stdout);
    const after = ids(new Date());
    const submitted = first.results.map((r: { id: string }) => r.id);
    expect([before, after]).toContainEqual(submitted);
    expect(first).toMatchObject({ submitted: 2, invalid: 0 });
    expect((await runOnce()).code).toBe(0);
    expect(await jobsIn(t, 'done')).toEqual(submitted.map((id: string) => `${id}.json`).sort());
    // Submitted again within the day: the nightly job is not run twice.
    const again = JSON.parse((await cli(t, ['submit', '--batch', batch, '--json'])).stdout);
    expect(again.results[0]).toMatchObject({ id: submitted[0], status: 'skipped', state: 'done' });
    const unknown = await cli(t, ['submit', '--batch', await writeBatch('bad.jsonl', jsonl([{ id: 'x-{month}', repo, task: 't' }]))]);
    expect([unknown.code, unknown.stdout.split('\n')[0]]).toEqual([
      2,
      'line 1: invalid: id: unknown placeholder {month} (known: {date}, {time})',
    ]);
  });

  it('worker --once exits 1 when a job it ran failed or was rejected; deferred work not due is a note on stderr, exit 0', async () => {
    await cli(t, [
      'submit',
      '--batch',
      await writeBatch(
        'a.jsonl',
        jsonl([
          { id: 'ok', repo, task: 'fine' },
          { id: 'bad', repo: await t.repo('b'), task: 'fail' },
        ]),
      ),
    ]);
    const failed = await runOnce();
    expect(failed.code).toBe(1);
    expect(failed.log).toContain('codex-spool: 1 job(s) failed or were rejected\n');
    await cli(t, ['submit', '--batch', await writeBatch('b.jsonl', jsonl([{ id: 'later', repo, task: 'transient' }]))]);
    const deferred = await runOnce(['--retry-delay-ms', '600000']);
    expect(deferred.code).toBe(0);
    expect(deferred.log).toMatch(/worker: 1 deferred job\(s\) not due yet \(the first at \d{4}-.*Z\): left for a later run\n/);
    expect(await jobsIn(t, 'deferred')).toEqual(['later.json']);
    expect((await runOnce()).code).toBe(0); // nothing ran: nothing failed
  });
});

describe('parseBatch', () => {
  it('numbers lines from 1 counting blank ones, strips a BOM and CRLF', () => {
    const entries = parseBatch(`\uFEFF{"id":"a","repo":"/r","task":"t"}\r\n\r\n   \n{"id":"b","repo":"/r","task":"u"}`);
    expect(entries).toEqual([
      { line: 1, id: 'a', spec: { repo: '/r', task: 't' } },
      { line: 4, id: 'b', spec: { repo: '/r', task: 'u' } },
    ]);
    expect(parseBatch('')).toEqual([]);
    expect(parseBatch('{"id":5,"repo":"/r","task":"t"}')[0]).toMatchObject({ line: 1, error: expect.stringMatching(/^id: /) });
    expect(parseBatch('{"id":"x","repo":"/r"}')[0]).toMatchObject({ line: 1, id: 'x', error: expect.stringMatching(/task/) });
  });
});

describe('two workers --once on one batch', () => {
  // A fast rescan makes the workers race for repos: the loser puts the job back for a moment ("waiting for
  // its repo"), and --once must wait for it, not exit and leave it for a later run (2 of 3 runs did).
  it('50 jobs: each runs exactly once, all end in done/, nothing is left in active/ or deferred/', async () => {
    const repos = await Promise.all(['p', 'q', 'r2', 's', 't'].map((n) => t.repo(n)));
    const ids = Array.from({ length: 50 }, (_, i) => `job-${String(i).padStart(2, '0')}`);
    const batch = await writeBatch('fifty.jsonl', jsonl(ids.map((id, i) => ({ id, repo: repos[i % repos.length], task: `task ${id}` }))));
    const submitted = await cli(t, ['submit', '--batch', batch]);
    expect(submitted.stdout).toBe('submitted 50, skipped 0 (already queued or done), invalid 0');

    const opts = ['--concurrency', '3', '--rescan-ms', '200'];
    const [a, b] = await Promise.all([runOnce(opts), runOnce(opts)]);
    expect([a.code, b.code]).toEqual([0, 0]);

    const log = await calls();
    expect(log).toHaveLength(50);
    for (const id of ids)
      expect(
        log.filter((argv) => argv.endsWith(` -- task ${id}`)),
        id,
      ).toHaveLength(1);
    expect(await jobsIn(t, 'done')).toEqual(ids.map((id) => `${id}.json`));
    expect(await jobsIn(t, 'active')).toEqual([]);
    expect(await jobsIn(t, 'inbox')).toEqual([]);
    expect(await jobsIn(t, 'deferred')).toEqual([]);
    expect(await jobsIn(t, 'failed')).toEqual([]);
    expect(await jobsIn(t, 'rejected')).toEqual([]);
    // Between them the two workers started each job once (each logs "started <id>" per run).
    const started = (l: string) => l.split('\n').filter((x) => x.startsWith('started job-')).length;
    expect(started(a.log) + started(b.log)).toBe(50);
    const record = JSON.parse(await readFile(join(t.root, 'spool', 'done', 'job-07.json'), 'utf8'));
    expect(record.task).toBe('task job-07');
    expect(record.result.status).toBe('succeeded');
  });
});

describe('expandId', () => {
  it('{date} is the same within a day and differs between days; {time} differs between minutes; other text stays', () => {
    const day = 86_400_000;
    const tz = process.env.TZ;
    process.env.TZ = 'UTC'; // local time without daylight saving: an hour that comes twice would repeat {time}
    onTestFinished(() => void (tz === undefined ? delete process.env.TZ : (process.env.TZ = tz)));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4e12 }),
        fc.integer({ min: 1, max: 1e10 }),
        fc.stringMatching(/^[a-z0-9_.-]{0,20}$/),
        (ms, gap, text) => {
          const [a, b] = [new Date(ms), new Date(ms + gap)];
          const id = (d: Date, tpl: string) => (expandId(tpl, d) as { id: string }).id;
          const sameDay = a.toDateString() === b.toDateString();
          expect(id(a, `${text}{date}`) === id(b, `${text}{date}`)).toBe(sameDay);
          if (gap >= 60_000 && gap < day) expect(id(a, '{date}{time}')).not.toBe(id(b, '{date}{time}'));
          expect(id(a, text)).toBe(text);
        },
      ),
    );
  });
});
