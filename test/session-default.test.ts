// Commands given no job id act on the latest job of the Claude Code session they run in ($CLAUDE_CODE_SESSION_ID,
// which Claude sets for its Bash tool), known by the claims `submit` records; never on another session's job.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeTempRoot, type TempRoot } from './helpers/spool-env.js';

let t: TempRoot;
let repo: string;
const A = 'claude-session-a';
const B = 'claude-session-b';
const as = (session: string | null, args: string[]) =>
  cli({ ...t, env: session ? { ...t.env, CLAUDE_CODE_SESSION_ID: session } : t.env }, args);
const submit = (session: string | null, id: string) => as(session, ['submit', '--repo', repo, '--task', `task ${id}`, '--id', id]);
const idsListed = (out: string) =>
  out
    .split('\n')
    .filter((l) => /^[a-z]\S* +(inbox|failed) /.test(l))
    .map((l) => l.split(' ')[0]);

beforeAll(async () => {
  t = await makeTempRoot();
  repo = await t.repo('r');
  // Submission order, not name order, decides which is the latest.
  for (const [s, id] of [
    [A, 'z-first'],
    [B, 'b1'],
    [A, 'a-second'],
    [null, 'anon'],
    [B, 'b2'],
  ] as const)
    expect((await submit(s, id)).code).toBe(0);
});
afterAll(() => t.cleanup());

describe('no job id given', () => {
  it("result and logs read this session's latest job; status lists only this session's jobs", async () => {
    const result = await as(A, ['result', '--json']);
    expect(result.code).toBe(4); // queued, not finished: its state is printed
    expect(JSON.parse(result.stdout)).toMatchObject({ id: 'a-second', state: 'inbox' });
    const logs = await as(B, ['logs']);
    expect([logs.code, logs.stderr]).toEqual([4, expect.stringContaining('job b2 has not started')]);

    const status = await as(A, ['status']);
    expect(idsListed(status.stdout).sort()).toEqual(['a-second', 'z-first']);
    expect(status.stdout).toContain('jobs: 2 inbox (this Claude session; --all: every job)');
    expect(idsListed((await as(A, ['status', '--all'])).stdout).sort()).toEqual(['a-second', 'anon', 'b1', 'b2', 'z-first']);
    expect(idsListed((await as(null, ['status'])).stdout)).toHaveLength(5);
  });

  it('cancel cancels the latest; asked again, it says that job already ended', async () => {
    expect(await as(B, ['cancel'])).toMatchObject({ code: 0, stdout: 'b2 cancelled' });
    expect(await as(B, ['cancel'])).toMatchObject({ code: 1, stderr: expect.stringContaining('b2 had already ended: cancelled') });
    expect(idsListed((await as(null, ['status', 'b1'])).stdout)).toEqual(['b1']); // still queued
  });

  it("wait and resume take this session's latest job too", async () => {
    const wait = await as(B, ['wait', '--json']);
    expect(wait.code).toBe(1); // b2 was cancelled
    expect(JSON.parse(wait.stdout).jobs).toEqual([expect.objectContaining({ id: 'b2', status: 'cancelled' })]);
    const D = 'claude-session-d';
    expect((await submit(D, 'd1')).code).toBe(0);
    expect(await as(D, ['resume', '--task', 'go on', '--id', 'd2'])).toMatchObject({ code: 0 });
    expect(JSON.parse(await readFile(join(t.root, 'spool', 'inbox', 'd2.json'), 'utf8'))).toMatchObject({ task: 'go on', resume: 'd1' });
  });

  it('a claim whose id now names another job (pruned, then reused) is passed over', async () => {
    await rm(join(t.root, 'spool', 'inbox', 'a-second.json'));
    await writeFile(join(t.root, 'spool', 'inbox', 'a-second.json'), JSON.stringify({ repo, task: 'someone else’s job' }));
    expect(JSON.parse((await as(A, ['result', '--json'])).stdout)).toMatchObject({ id: 'z-first' });
  });

  it('outside a Claude session an id is required (exit 2); a session that submitted nothing gets exit 3', async () => {
    for (const cmd of [['result'], ['logs'], ['cancel'], ['wait'], ['resume', '--task', 'x']]) {
      expect(await as(null, cmd), cmd[0]).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('a job id is required') });
      expect(await as('claude-session-c', cmd), cmd[0]).toMatchObject({
        code: 3,
        stdout: '',
        stderr: expect.stringContaining('submitted no job'),
      });
    }
    expect(idsListed((await as('claude-session-c', ['status'])).stdout)).toHaveLength(7); // nothing of its own: every job
  });
});
