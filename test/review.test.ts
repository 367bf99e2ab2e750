// Review jobs against the REAL Codex CLI and the mock Responses server: `submit --review` queues a job that the
// worker runs as `codex exec review`, and the result is the review's findings.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codexBin } from './helpers/codex-home.js';
import type { MockServer } from './helpers/mock-responses.js';
import { realCodexSpool, type RealCodexSpool } from './helpers/real-codex.js';
import { cli, jobsIn, killStarted, readJson, startWorker, waitForFinished, type TempRoot } from './helpers/spool-env.js';

let env: RealCodexSpool;
let mock: MockServer;
let t: TempRoot;
let repo: string;

beforeAll(async () => {
  env = await realCodexSpool('main', async (dir) => {
    const git = (...args: string[]) => execa('git', ['-C', dir, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args]);
    await writeFile(join(dir, 'calc.js'), 'export const add = (a, b) => a + b;\n');
    await git('add', '.');
    await git('commit', '-q', '-m', 'add');
    await writeFile(join(dir, 'calc.js'), 'export const add = (a, b) => a - b;\n'); // the uncommitted change to review
  });
  ({ mock, t, repo } = env);
});
afterEach(killStarted);
afterAll(() => env.close());

/** What Codex's review mode asks the model to answer: findings as JSON, which Codex renders as text. */
const FINDINGS = {
  findings: [
    {
      title: '[P1] add subtracts',
      body: '`add` returns a - b.',
      confidence_score: 0.9,
      priority: 1,
      code_location: { absolute_file_path: '/REPO/calc.js', line_range: { start: 1, end: 1 } },
    },
  ],
  overall_correctness: 'patch is incorrect',
  overall_explanation: 'The change breaks add.',
  overall_confidence_score: 0.9,
};
const userTexts = (body: any): string[] =>
  (body.input as any[]).filter((i) => i.role === 'user').flatMap((i) => i.content.map((c: any) => c.text ?? ''));

describe('review jobs', () => {
  it('submit --review checks its target and refuses a task beside it', async () => {
    for (const args of [
      ['--review', 'bogus'],
      ['--review', 'base:--help'],
      ['--review', 'uncommitted', '--task', 'x'],
      ['--review', 'uncommitted', '--resume', 'x'],
    ]) {
      const r = await cli(t, ['submit', '--repo', repo, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(await jobsIn(t, 'inbox')).toEqual([]);
  });

  it('runs `codex exec review --uncommitted` read-only in the repo; the result is the findings; a follow-up continues its session', async () => {
    FINDINGS.findings[0]!.code_location.absolute_file_path = join(repo, 'calc.js');
    mock.script([
      { kind: 'shell', cmd: 'git diff' },
      { kind: 'message', text: JSON.stringify(FINDINGS) },
    ]);
    const first = mock.requests.length;
    const submit = await cli(t, ['submit', '--repo', repo, '--review', 'uncommitted', '--id', 'rev']);
    expect(submit.code, submit.stderr).toBe(0);
    expect(await readJson(join(t.root, 'spool', 'inbox', 'rev.json'))).toEqual({ repo, review: { uncommitted: true } });

    const worker = startWorker(t, [], codexBin());
    const { state, record } = await waitForFinished(t, 'rev');
    expect(record.result.error).toBeNull();
    expect(state).toBe('done');
    // Codex's own review prompt went to the model, and the command the model asked for ran in the repo.
    const reqs = mock.requests.slice(first);
    expect(userTexts(reqs[0]!.body).at(-1)).toMatch(/^Review the current code changes \(staged, unstaged, and untracked files\)/);
    const output = JSON.stringify(reqs[1]!.body.input.at(-1));
    expect(output).toContain('a - b');
    const summary = await readJson(record.result.summary);
    const meta = await readJson(summary.files.meta);
    expect(meta.argv.slice(-2)).toEqual(['review', '--uncommitted']);
    expect(meta.argv).toEqual(expect.arrayContaining(['-s', 'read-only']));
    expect(summary.task).toBe('review: uncommitted changes');
    // The findings, as Codex renders them: explanation, then one line per finding with its place.
    expect(record.result.final_message).toContain('The change breaks add.');
    expect(record.result.final_message).toContain(`[P1] add subtracts — ${join(repo, 'calc.js')}:1-1`);
    const result = await cli(t, ['result', 'rev']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('[P1] add subtracts');
    console.log(`review result output: ${Buffer.byteLength(result.stdout)} bytes`);

    // "Now fix what the review found": a task resuming the review job continues its Codex session.
    const follow = await cli(t, ['resume', 'rev', '--task', 'Fix the findings', '--id', 'fix']);
    expect(follow.code, follow.stderr).toBe(0);
    const fixed = await waitForFinished(t, 'fix');
    expect(fixed.record.result.error).toBeNull();
    expect(fixed.record.result.session_id).toBe(record.result.session_id);
    expect(JSON.stringify(mock.requests.at(-1)!.body.input)).toContain('add subtracts');
    await worker.stop();
    expect(await readFile(join(repo, 'calc.js'), 'utf8')).toContain('a - b'); // the review changed nothing
  });
});
