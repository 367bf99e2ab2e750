// Chaos 4: bad input, hand-picked and generated with fast-check. Every file is rejected with its bytes
// kept (Buffer-compared) and an error file naming the problem; no Codex runs; the worker never crashes
// and still completes a good job at the end.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, open, readFile, readdir, readlink, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { JobSpec, RejectReason } from '../../src/spool/schema.js';
import { startWorker, waitFor, waitForFinished, type TempRoot, type WorkerProcess } from '../helpers/spool-env.js';
import {
  CHAOS,
  census,
  chaosCodex,
  chaosRoot,
  endChaosTest,
  figure,
  readCalls,
  sleep,
  spoolDir,
  tag,
  writeJob,
} from './fixtures/chaos-kit.js';

let server: Server | undefined;
afterEach(async () => {
  server?.close();
  server = undefined;
  await endChaosTest();
});

interface Env {
  t: TempRoot;
  log: string;
  /** Inside policy.repo_prefixes. */
  allowed: string;
  /** An existing directory outside policy.repo_prefixes. */
  outside: string;
  worker: WorkerProcess;
}

async function setup(): Promise<Env> {
  const { t, log } = await chaosRoot();
  const prefix = join(t.dir, 'allowed');
  const allowed = join(prefix, 'repo');
  const outside = join(t.dir, 'outside');
  await mkdir(allowed, { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { repo_prefixes: [prefix], max_timeout_s: 3600 } }));
  const worker = startWorker(t, ['--reject-after-ms', '300', '--rescan-ms', '500'], chaosCodex);
  await waitFor('worker up', () => worker.log().includes('concurrency'), 20_000);
  return { t, log, allowed, outside, worker };
}

const inboxPath = (e: Env, name: string) => join(spoolDir(e.t, 'inbox'), name);

/** The rejection error files, by the job file name they are about. */
async function rejections(e: Env): Promise<Map<string, { stem: string; error: any }[]>> {
  const dir = spoolDir(e.t, 'rejected');
  const out = new Map<string, { stem: string; error: any }[]>();
  for (const n of await readdir(dir)) {
    if (!n.endsWith('.error.json') || n.startsWith('.')) continue;
    const error = JSON.parse(await readFile(join(dir, n), 'utf8'));
    const stem = n.slice(0, -'.error.json'.length);
    out.set(error.job_file, [...(out.get(error.job_file) ?? []), { stem, error }]);
  }
  return out;
}

/** Waits until every name has its rejection, and returns them. */
async function awaitRejected(e: Env, names: string[], timeoutMs = 60_000) {
  let last = new Map<string, { stem: string; error: any }[]>();
  await waitFor(
    `${names.length} rejections`,
    async () => {
      last = await rejections(e);
      return names.every((n) => last.has(n));
    },
    timeoutMs,
  ).catch((err: Error) => {
    const missing = names.filter((n) => !last.has(n));
    throw new Error(`${err.message}; not rejected: ${JSON.stringify(missing.slice(0, 20))}`);
  });
  return last;
}

type Expect = { reasons: readonly string[]; message?: RegExp };
type Kind = 'file' | 'symlink' | 'fifo' | 'dir' | 'socket';

/** Checks one rejected input: one error file, a known reason and a message, the bytes (or node) kept. */
async function checkRejected(
  e: Env,
  rejected: Map<string, { stem: string; error: any }[]>,
  name: string,
  kind: Kind,
  original: Buffer | string | null,
  want: Expect,
): Promise<string[]> {
  const problems: string[] = [];
  const found = rejected.get(name) ?? [];
  if (found.length !== 1) return [`${JSON.stringify(name)}: ${found.length} error files`];
  const { stem, error } = found[0]!;
  if (!RejectReason.safeParse(error.reason).success) problems.push(`${name}: unknown reason ${error.reason}`);
  if (!want.reasons.includes(error.reason))
    problems.push(`${JSON.stringify(name)}: reason ${error.reason}, want ${want.reasons.join('|')} (${error.message})`);
  if (typeof error.message !== 'string' || error.message.length < 10) problems.push(`${name}: no clear message`);
  if (want.message && !want.message.test(error.message))
    problems.push(`${JSON.stringify(name)}: message ${JSON.stringify(error.message)} !~ ${want.message}`);
  if (!Array.isArray(error.issues) || Number.isNaN(Date.parse(error.rejected_at))) problems.push(`${name}: malformed error file`);
  const path = join(spoolDir(e.t, 'rejected'), `${stem}.json`);
  const st = await lstat(path).catch(() => null);
  if (!st) return [...problems, `${name}: rejected/${stem}.json missing`];
  if (kind === 'file') {
    if (!st.isFile()) problems.push(`${name}: no longer a regular file`);
    else if (!(await readFile(path)).equals(Buffer.from(original as Buffer))) problems.push(`${JSON.stringify(name)}: bytes changed`);
  }
  if (kind === 'symlink' && (!st.isSymbolicLink() || (await readlink(path)) !== original)) problems.push(`${name}: symlink changed`);
  if (kind === 'fifo' && !st.isFIFO()) problems.push(`${name}: no longer a FIFO`);
  if (kind === 'dir' && !st.isDirectory()) problems.push(`${name}: no longer a directory`);
  if (kind === 'socket' && !st.isSocket()) problems.push(`${name}: no longer a socket`);
  return problems;
}

/** The worker lives on: it still runs a good job to done, and its process is still the one started. */
async function goodJobStillRuns(e: Env, id: string): Promise<void> {
  expect(e.worker.child.exitCode).toBeNull();
  await writeJob(e.t, id, { repo: e.allowed, task: `${tag(id)} fine` });
  expect((await waitForFinished(e.t, id, 30_000)).state).toBe('done');
  expect(e.worker.child.exitCode).toBeNull();
}

const deep = (n: number, open = '[', close = ']') => open.repeat(n) + close.repeat(n);

describe.skipIf(!CHAOS)('chaos: bad input', () => {
  it('hand-picked bad input (78 files, symlinks, FIFO, socket, dir + a duplicate id): each rejected, bytes kept, a clear error; the worker lives on', async () => {
    const e = await setup();
    const { allowed, outside } = e;
    const job = (extra: object) => JSON.stringify({ repo: allowed, task: 'x', ...extra });
    const files: [string, Buffer | string, Expect][] = [
      // Not JSON, or not all of it
      ['empty.json', '', { reasons: ['invalid_json'] }],
      ['truncated.json', job({}).slice(0, 20), { reasons: ['invalid_json'], message: /JSON/ }],
      ['truncated-at-end.json', job({}).slice(0, -1), { reasons: ['invalid_json'] }],
      ['trailing-garbage.json', `${job({})}}`, { reasons: ['invalid_json'] }],
      ['two-documents.json', `${job({})}\n${job({})}`, { reasons: ['invalid_json'] }],
      ['binary-junk.json', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)), { reasons: ['invalid_json'] }],
      ['nul-bytes.json', Buffer.alloc(1000), { reasons: ['invalid_json'] }],
      [
        'bad-utf8-ff.json',
        Buffer.concat([Buffer.from(`{"repo":"${allowed}","task":"`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
        { reasons: ['invalid_json'], message: /UTF-8/ },
      ],
      [
        'bad-utf8-overlong.json',
        Buffer.concat([Buffer.from(`{"repo":"${allowed}","task":"`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
        { reasons: ['invalid_json'] },
      ],
      [
        'bad-utf8-surrogate.json',
        Buffer.concat([Buffer.from(`{"repo":"${allowed}","task":"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        { reasons: ['invalid_json'] },
      ],
      [
        'bad-utf8-cut.json',
        Buffer.concat([Buffer.from(`{"repo":"${allowed}","task":"`), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]),
        { reasons: ['invalid_json'] },
      ],
      ['utf16.json', Buffer.from(`\ufeff${job({})}`, 'utf16le'), { reasons: ['invalid_json'] }],
      // Far too big: never read
      [
        'ten-mib-task.json',
        `{"repo":"${allowed}","task":"${'x'.repeat(10 * 1024 * 1024)}"}`,
        { reasons: ['policy'], message: /max_job_bytes/ },
      ],
      ['ten-mib-junk.json', Buffer.alloc(10 * 1024 * 1024, 0xa7), { reasons: ['policy'], message: /max_job_bytes/ }],
      ['just-over-limit.json', job({ task: 'y'.repeat(256 * 1024) }), { reasons: ['policy'] }],
      // Deep nesting
      ['deep-arrays.json', deep(100_000), { reasons: ['invalid_job'] }],
      [
        'deep-arrays-in-args.json',
        `{"repo":"${allowed}","task":"x","args":${deep(100_000)}}`,
        { reasons: ['invalid_job'], message: /args/ },
      ],
      ['deep-objects.json', deep(40_000, '{"a":', '}').replace('{"a":}', '{"a":1}'), { reasons: ['invalid_json', 'invalid_job'] }],
      ['deep-unknown-field.json', `{"repo":"${allowed}","task":"x","deep":${deep(90_000)}}`, { reasons: ['invalid_job'], message: /deep/ }],
      ['deep-unbalanced.json', '['.repeat(100_000), { reasons: ['invalid_json'] }],
      ['deep-over-limit.json', deep(200_000), { reasons: ['policy'] }],
      // Wrong shapes and types
      ['array.json', '[]', { reasons: ['invalid_job'] }],
      ['null.json', 'null', { reasons: ['invalid_job'] }],
      ['number.json', '42', { reasons: ['invalid_job'] }],
      ['string.json', '"{}"', { reasons: ['invalid_job'] }],
      ['missing-task.json', JSON.stringify({ repo: allowed }), { reasons: ['invalid_job'], message: /task/ }],
      ['empty-task.json', job({ task: '' }), { reasons: ['invalid_job'], message: /task/ }],
      ['task-number.json', job({ task: 42 }), { reasons: ['invalid_job'], message: /task/ }],
      ['repo-array.json', JSON.stringify({ repo: [allowed], task: 'x' }), { reasons: ['invalid_job'], message: /repo/ }],
      ['repo-relative.json', JSON.stringify({ repo: 'repo', task: 'x' }), { reasons: ['invalid_job'], message: /absolute/ }],
      ['timeout-string.json', job({ timeout_s: 'soon' }), { reasons: ['invalid_job'], message: /timeout_s/ }],
      ['timeout-negative.json', job({ timeout_s: -1 }), { reasons: ['invalid_job'], message: /timeout_s/ }],
      ['timeout-huge.json', job({ timeout_s: 1e300 }), { reasons: ['invalid_job'], message: /timeout_s/ }],
      ['args-string.json', job({ args: '--model x' }), { reasons: ['invalid_job'], message: /args/ }],
      ['args-numbers.json', job({ args: [1, 2] }), { reasons: ['invalid_job'], message: /args/ }],
      ['priority-float.json', job({ priority: 1.5 }), { reasons: ['invalid_job'], message: /priority/ }],
      ['attempts-negative.json', job({ attempts: -1 }), { reasons: ['invalid_job'], message: /attempts/ }],
      ['sandbox-unknown.json', job({ sandbox: 'yolo' }), { reasons: ['invalid_job'], message: /sandbox/ }],
      ['worktree-string.json', job({ worktree: 'yes' }), { reasons: ['invalid_job'], message: /worktree/ }],
      ['resume-path.json', job({ resume: '../other' }), { reasons: ['invalid_job'], message: /resume/ }],
      ['unknown-field.json', job({ colour: 'red' }), { reasons: ['invalid_job'], message: /colour/ }],
      // Prototype pollution
      [
        'proto.json',
        `{"repo":"${allowed}","task":"x","__proto__":{"polluted":true,"sandbox":"danger-full-access"}}`,
        { reasons: ['invalid_job'], message: /__proto__/ },
      ],
      [
        'constructor.json',
        `{"repo":"${allowed}","task":"x","constructor":{"prototype":{"polluted":true}}}`,
        { reasons: ['invalid_job'], message: /constructor/ },
      ],
      ['proto-in-args.json', `{"repo":"${allowed}","task":"x","args":{"__proto__":[]}}`, { reasons: ['invalid_job'], message: /args/ }],
      // Policy and references
      ['repo-missing.json', JSON.stringify({ repo: join(allowed, 'nope'), task: 'x' }), { reasons: ['repo_missing'], message: /nope/ }],
      [
        'repo-outside.json',
        JSON.stringify({ repo: outside, task: 'x' }),
        { reasons: ['policy'], message: /policy\.repo_prefixes|codex-spool root/ },
      ],
      [
        'repo-root.json',
        JSON.stringify({ repo: '/', task: 'x' }),
        { reasons: ['policy'], message: /policy\.repo_prefixes|codex-spool root/ },
      ],
      [
        'repo-dotdot.json',
        JSON.stringify({ repo: `${allowed}/../../outside`, task: 'x' }),
        { reasons: ['policy'], message: /policy\.repo_prefixes|codex-spool root/ },
      ],
      ['sandbox-danger.json', job({ sandbox: 'danger-full-access' }), { reasons: ['policy'], message: /policy\.sandboxes/ }],
      [
        'args-bypass.json',
        job({ args: ['--dangerously-bypass-approvals-and-sandbox'] }),
        { reasons: ['policy'], message: /policy\.allowed_args/ },
      ],
      [
        'args-sandbox-config.json',
        job({ args: ['-c', 'sandbox_mode="danger-full-access"'] }),
        { reasons: ['policy'], message: /policy\.allowed_args/ },
      ],
      [
        'args-config-inline.json',
        job({ args: ['--config=sandbox_mode=danger-full-access'] }),
        { reasons: ['policy'], message: /policy\.allowed_args/ },
      ],
      [
        'args-approval.json',
        job({ args: ['-m', 'gpt-5', '-c', 'approval_policy=never'] }),
        { reasons: ['policy'], message: /policy\.allowed_args/ },
      ],
      ['args-add-dir.json', job({ args: ['--add-dir', '/'] }), { reasons: ['policy'], message: /policy\.allowed_args/ }],
      ['args-dangling-c.json', job({ args: ['-c'] }), { reasons: ['policy'], message: /policy\.allowed_args/ }],
      ['args-positional.json', job({ args: ['rm -rf /'] }), { reasons: ['policy'], message: /policy\.allowed_args/ }],
      ['timeout-over-policy.json', job({ timeout_s: 7200 }), { reasons: ['policy'], message: /policy\.max_timeout_s/ }],
      ['resume-unknown.json', job({ resume: 'never-was' }), { reasons: ['unknown_resume'], message: /never-was/ }],
      ['resume-self.json', job({ resume: 'resume-self' }), { reasons: ['unknown_resume'], message: /itself/ }],
      // Bad names (the content is a good job: the name alone gets it rejected)
      ['has space.json', job({}), { reasons: ['bad_name'] }],
      ['ünïcødé.json', job({}), { reasons: ['bad_name'] }],
      ['日本語のジョブ.json', job({}), { reasons: ['bad_name'] }],
      ['emoji-😀.json', job({}), { reasons: ['bad_name'] }],
      ['tab\there.json', job({}), { reasons: ['bad_name'] }],
      ['new\nline.json', job({}), { reasons: ['bad_name'] }],
      ['quote"s;$(touch pwned).json', job({}), { reasons: ['bad_name'] }],
      [`${'n'.repeat(129)}.json`, job({}), { reasons: ['bad_name'] }],
      [`${'ü'.repeat(120)}.json`, job({}), { reasons: ['bad_name'] }], // 240 bytes: its lock and rejected name are hashed
    ];
    for (const [name, bytes] of files) await writeFile(inboxPath(e, name), bytes);
    // A symlink repo inside the prefix that leads outside it.
    await symlink(outside, join(allowed, '..', 'escape'));
    files.push([
      'repo-symlink-escape.json',
      JSON.stringify({ repo: join(allowed, '..', 'escape'), task: 'x' }),
      { reasons: ['policy'], message: /outside/ },
    ]);
    await writeFile(inboxPath(e, 'repo-symlink-escape.json'), files.at(-1)![1]);
    // A 10 MiB sparse file: its size alone gets it rejected.
    await writeFile(inboxPath(e, 'sparse.json'), '');
    await truncate(inboxPath(e, 'sparse.json'), 10 * 1024 * 1024);
    files.push(['sparse.json', Buffer.alloc(10 * 1024 * 1024), { reasons: ['policy'] }]);

    // Not regular files: never opened, moved as they are.
    const goodOutside = join(e.t.dir, 'good-job-outside.json');
    await writeFile(goodOutside, job({}));
    const nodes: [string, Kind, string | null, Expect][] = [
      ['link-to-etc.json', 'symlink', '/etc/hostname', { reasons: ['unreadable'], message: /symlink/ }],
      ['link-to-good-job.json', 'symlink', goodOutside, { reasons: ['unreadable'], message: /symlink/ }],
      ['link-dangling.json', 'symlink', join(e.t.dir, 'nothing-here'), { reasons: ['unreadable'], message: /symlink/ }],
      ['link-to-dir.json', 'symlink', '/tmp', { reasons: ['unreadable'], message: /symlink/ }],
      ['fifo.json', 'fifo', null, { reasons: ['unreadable'], message: /FIFO/ }],
      ['x.json', 'dir', null, { reasons: ['unreadable'], message: /directory/ }],
      ['socket.json', 'socket', null, { reasons: ['unreadable'], message: /socket/ }],
    ];
    for (const [name, kind, target] of nodes) {
      if (kind === 'symlink') await symlink(target!, inboxPath(e, name));
      if (kind === 'fifo') execFileSync('mkfifo', [inboxPath(e, name)]);
      if (kind === 'dir') await mkdir(join(inboxPath(e, name), 'sub'), { recursive: true });
      if (kind === 'socket') {
        server = createServer();
        await new Promise<void>((resolve) => server!.listen(inboxPath(e, name), resolve));
      }
    }
    // Written slowly: six chunks 60 ms apart (more than the 50 ms settle, well under the 300 ms reject
    // time); no prefix parses, so it must be taken whole, and then rejected for its wrong type.
    const slowText = JSON.stringify({ repo: allowed, task: 'written slowly', timeout_s: 'later', pad: 'z'.repeat(200) }, null, 2);
    const fh = await open(inboxPath(e, 'slow.json'), 'w');
    const chunk = Math.ceil(slowText.length / 6);
    for (let i = 0; i < slowText.length; i += chunk) {
      await fh.write(slowText.slice(i, i + chunk));
      await sleep(60);
    }
    await fh.close();
    files.push(['slow.json', slowText, { reasons: ['invalid_job'], message: /timeout_s/ }]);

    const names = [...files.map(([n]) => n), ...nodes.map(([n]) => n)];
    const rejected = await awaitRejected(e, names);
    const problems: string[] = [];
    for (const [name, bytes, want] of files)
      problems.push(...(await checkRejected(e, rejected, name, 'file', Buffer.from(bytes as Buffer), want)));
    for (const [name, kind, target, want] of nodes) problems.push(...(await checkRejected(e, rejected, name, kind, target, want)));
    expect(await readFile(goodOutside, 'utf8')).toBe(job({})); // the symlink's target is left alone
    const c = await census(e.t);
    const leftover = [...c.inbox, ...c.active, ...c.done, ...c.failed];
    const calls = await readCalls(e.log);
    await goodJobStillRuns(e, 'good-after-bad');
    // A job with the id of a finished one is rejected too, the result left as it was.
    const dupBytes = JSON.stringify({ repo: allowed, task: 'again' });
    await writeFile(inboxPath(e, 'good-after-bad.json'), dupBytes);
    const dup = await awaitRejected(e, ['good-after-bad.json']);
    problems.push(
      ...(await checkRejected(e, dup, 'good-after-bad.json', 'file', Buffer.from(dupBytes), {
        reasons: ['duplicate_id'],
        message: /already used/,
      })),
    );
    figure('hand-picked bad input', {
      inputs: names.length + 1,
      rejected: rejected.size + 1,
      problems,
      leftover,
      codexCalls: calls.length,
      workerAlive: e.worker.child.exitCode === null,
    });
    expect(problems).toEqual([]);
    expect(leftover).toEqual([]);
    expect(calls).toEqual([]); // no Codex ran for any of them
    expect(await readCalls(e.log)).toHaveLength(1); // the good job
    expect(e.worker.log()).not.toMatch(/^error /m);
    expect(await e.worker.stop()).toBe(0);
  });

  it('fast-check: 5 batches of 40-60 generated bad jobs (~200-250 files), each rejected with its bytes and a clear error', async () => {
    const e = await setup();
    const { allowed, outside } = e;
    const knownKeys = Object.keys(JobSpec.shape);
    const base = () => ({ repo: allowed, task: 'generated' });
    const text = (s: string) => Buffer.from(s, 'utf8');
    const json = fc.jsonValue({ maxDepth: 3 });
    /** Anything that would be accepted (a valid job for an allowed repo, under a good name) is no bad input. */
    const isRunnable = (name: string, bytes: Buffer) => {
      if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}\.json$/.test(name)) return false;
      try {
        const v = JobSpec.safeParse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
        return v.success && v.data.repo.startsWith(join(e.t.dir, 'allowed'));
      } catch {
        return false;
      }
    };
    const content = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((b) => ({ kind: 'binary', bytes: Buffer.from(b) })),
      fc.string({ unit: 'binary', maxLength: 400 }).map((s) => ({ kind: 'text', bytes: text(s) })),
      json.map((v) => ({ kind: 'json', bytes: text(JSON.stringify(v)) })),
      fc
        .nat({ max: 10_000 })
        .map((n) => ({ kind: 'truncated', bytes: text(JSON.stringify({ ...base(), task: 'cut short here' }).slice(0, n % 40)) })),
      fc
        .tuple(
          fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
          fc.string({ maxLength: 20 }),
        )
        .map(([bad, s]) => ({
          kind: 'bad-utf8',
          bytes: Buffer.concat([
            text(`{"repo":${JSON.stringify(allowed)},"task":${JSON.stringify(s).slice(0, -1)}`),
            Buffer.from(bad),
            text('"}'),
          ]),
        })),
      fc
        .tuple(fc.constantFrom(...knownKeys), json)
        .map(([key, value]) => ({ kind: `field ${key}`, bytes: text(JSON.stringify({ ...base(), [key]: value })) })),
      fc
        .tuple(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !knownKeys.includes(k)),
          json,
        )
        .map(([key, value]) => ({
          kind: 'unknown field',
          bytes: text(`{"repo":${JSON.stringify(allowed)},"task":"x",${JSON.stringify(key)}:${JSON.stringify(value)}}`),
        })),
      fc
        .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'), json)
        .map(([key, value]) => ({
          kind: `proto ${key}`,
          bytes: text(`{"repo":${JSON.stringify(allowed)},"task":"x","${key}":${JSON.stringify(value ?? { polluted: true })}}`),
        })),
      fc
        .constantFrom(
          ['--dangerously-bypass-approvals-and-sandbox'],
          ['-c', 'sandbox_mode=danger-full-access'],
          ['--config', 'sandbox_mode="workspace-write"'],
          ['-c', 'approval_policy="never"'],
          ['--full-auto'],
          ['-s', 'danger-full-access'],
          ['--sandbox=danger-full-access'],
          ['--cd', '/'],
          ['-C', '/etc'],
          ['--add-dir', '/root'],
          ['-o', '/etc/passwd'],
          ['--profile', 'yolo'],
        )
        .chain((bad) => fc.tuple(fc.subarray(['-m', 'gpt-5', '--skip-git-repo-check']), fc.constant(bad)))
        .map(([ok, bad]) => ({ kind: 'forbidden args', bytes: text(JSON.stringify({ ...base(), args: [...ok, ...bad] })) })),
      fc
        .oneof(
          fc.constantFrom('/', '/tmp', '/etc', outside, `${allowed}/../../outside`),
          fc.string({ maxLength: 30 }).map((s) => `/nonexistent/${s}`),
        )
        .map((repo) => ({ kind: 'repo outside', bytes: text(JSON.stringify({ repo, task: 'x' })) })),
    );
    const badName = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .filter(
        (s) =>
          !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(s) &&
          !s.startsWith('.') &&
          !s.includes('/') &&
          !s.includes('\0') &&
          Buffer.byteLength(s) < 180,
      );
    const input = fc.record({ content, weirdName: fc.option(badName, { freq: 5 }) });
    let batch = 0;
    let total = 0;
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 40, maxLength: 60 }), async (inputs) => {
        batch++;
        const cases = inputs
          .map((inp, i) => ({ ...inp.content, name: `${inp.weirdName ?? ''}fc${batch}-${i}${inp.weirdName ? ' ' : ''}.json` }))
          .filter((c) => !isRunnable(c.name, c.bytes));
        for (const c of cases) {
          await writeFile(inboxPath(e, c.name), c.bytes);
          kinds.set(c.kind.split(' ')[0]!, (kinds.get(c.kind.split(' ')[0]!) ?? 0) + 1);
        }
        total += cases.length;
        const rejected = await awaitRejected(
          e,
          cases.map((c) => c.name),
        );
        const problems: string[] = [];
        for (const c of cases) {
          const p = await checkRejected(e, rejected, c.name, 'file', c.bytes, { reasons: RejectReason.options });
          problems.push(...p.map((x) => `[${c.kind}] ${x}`));
        }
        const cs = await census(e.t);
        const leftover = [...cs.inbox, ...cs.active, ...cs.done, ...cs.failed];
        if (problems.length || leftover.length || e.worker.child.exitCode !== null) {
          throw new Error(`batch ${batch}: ${JSON.stringify({ problems, leftover, exit: e.worker.child.exitCode })}`);
        }
      }),
      { numRuns: 5, endOnFailure: true, seed: process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : undefined },
    );
    const calls = await readCalls(e.log);
    await goodJobStillRuns(e, 'good-after-generated');
    figure('fast-check bad input', {
      batches: batch,
      inputs: total,
      kinds: [...kinds].map(([k, n]) => `${k}:${n}`).join(','),
      codexCalls: calls.length,
      workerAlive: e.worker.child.exitCode === null,
    });
    expect(calls).toEqual([]);
    expect(e.worker.log()).not.toMatch(/^error /m);
    expect(await e.worker.stop()).toBe(0);
  });

  // BUG (pinned): a NUL character ("\u0000", valid JSON) in `task`, `model` or `args` passes validation
  // (src/spool/schema.ts:24/29/31: plain z.string()), then Codex cannot be started: execa throws "Arguments
  // cannot contain null bytes" (src/codex/runner.ts:54), runValidJob (src/worker/run-job.ts:101) does not catch it,
  // the worker logs "error <name>" and releases the claim (src/worker/worker.ts:209-212), and recovery re-queues
  // the job as if its worker had died, until it gives up (src/worker/recovery.ts:64). Actual: spool/failed/<id>.json
  // "gave up: the run was interrupted 3 times (worker crash or shutdown)", 3 run dirs left "running", no
  // error file, the bytes rewritten. Expected: rejected (invalid_job) at once, bytes unchanged, beside an
  // error file naming the field.
  it('a NUL in task/model/args is rejected as invalid_job with its bytes kept', async () => {
    const e = await setup();
    const cases: [string, string][] = [
      ['nul-task.json', `{"repo":${JSON.stringify(e.allowed)},"task":"a\\u0000b"}`],
      ['nul-model.json', `{"repo":${JSON.stringify(e.allowed)},"task":"x","model":"m\\u0000"}`],
      ['nul-args.json', `{"repo":${JSON.stringify(e.allowed)},"task":"x","args":["-m","a\\u0000b"]}`],
    ];
    for (const [name, bytes] of cases) await writeFile(inboxPath(e, name), bytes);
    const ids = cases.map(([n]) => n.slice(0, -'.json'.length));
    const filed = await waitFor(
      'all three filed',
      async () => {
        const c = await census(e.t);
        return ids.every((id) => c.failed.includes(id) || c.rejected.includes(id)) ? c : null;
      },
      30_000,
    );
    expect(filed.failed).toEqual([]); // actual: all three, "gave up: the run was interrupted 3 times"
    const rejected = await awaitRejected(
      e,
      cases.map(([n]) => n),
      5_000,
    );
    const problems: string[] = [];
    for (const [name, bytes] of cases)
      problems.push(...(await checkRejected(e, rejected, name, 'file', Buffer.from(bytes), { reasons: ['invalid_job'] })));
    expect(problems).toEqual([]);
  });
});
