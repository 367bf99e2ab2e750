// An error reading a job surfaces from every command that looks a job up: exit 1 with the error, never
// "no such job" (exit 3), which would send a caller to resubmit work that exists.
import { rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { spoolLayout } from '../src/spool/layout.js';

let t: TempRoot;
/** A root whose spool/done is a symbolic link loop: every lookup's lstat there fails with ELOOP, which root gets too (EACCES it does not). */
let broken: TempRoot;
beforeAll(async () => {
  [t, broken] = await Promise.all([makeTempRoot(), makeTempRoot()]);
  const done = spoolLayout(broken.root).dir('done');
  await rm(done, { recursive: true });
  await symlink(done, done);
});
afterAll(() => Promise.all([t.cleanup(), broken.cleanup()]));

describe('a job file that cannot be looked at', () => {
  it.each([['status'], ['result'], ['logs'], ['cancel'], ['retry']])(
    '%s ID: exit 1 naming the error, not "no such job"',
    async (command) => {
      const r = await cli(broken, [command, 'loop']);
      expect(r.stderr).toMatch(/ELOOP/);
      expect(r.stderr).not.toMatch(/no such job/);
      expect(r.code).toBe(1);
    },
  );

  it('an id with no file at all is still "no such job", exit 3', async () => {
    const r = await cli(t, ['status', 'absent']);
    expect(r).toMatchObject({ code: 3, stderr: 'codex-spool: no such job: absent' });
  });

  // fails on main: the error passed for a repo that is gone, compared as written: "ran in …, not …" (exit 2)
  it("submit --resume: the resumed job's repo that cannot be resolved (ELOOP) is an error, not another repo", async () => {
    const loop = join(t.dir, 'repo-loop');
    await symlink(loop, loop);
    await writeFile(spoolLayout(t.root).job('inbox', 'earlier'), JSON.stringify({ repo: loop, task: 'x' }));
    const r = await cli(t, ['submit', '--resume', 'earlier', '--repo', await t.repo('r'), '--task', 'go on']);
    expect(r.stderr).toMatch(/ELOOP/);
    expect(r.code).toBe(1);
  });
});
