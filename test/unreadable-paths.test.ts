// Errors other than "not there" surface: an EACCES never passes for absent. Mode bits do not stop root, so
// each command runs as uid 65534 (setpriv), from a copy of dist/ in the test's temp dir (the clone may be
// where that user cannot go), on a root that user owns.
import { spawnSync } from 'node:child_process';
import { chmod, chown, cp, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeCodex, makeTempRoot, projectRoot, type TempRoot } from './helpers/spool-env.js';
import { spoolLayout } from '../src/spool/layout.js';

const NOBODY = 65534;
const canSetpriv = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

let t: TempRoot;
let repo: string;
/** A directory of root's that uid 65534 cannot search. */
let locked: string;

beforeAll(async () => {
  if (!canSetpriv) return;
  t = await makeTempRoot();
  repo = await t.repo('r');
  await cp(join(projectRoot, 'dist'), join(t.dir, 'pkg', 'dist'), { recursive: true, filter: (src) => !src.endsWith('.cache') });
  await cp(join(projectRoot, 'package.json'), join(t.dir, 'pkg', 'package.json'));
  await cp(fakeCodex, join(t.dir, 'pkg', 'fake-codex'));
  await writeFile(join(t.root, 'codex-spool.config.json'), JSON.stringify({ policy: { allowed_args: ['--add-dir'] } }), { mode: 0o600 });
  await chmod(t.dir, 0o755); // mkdtemp's 0700 would keep the user out
  await execa('chown', ['-R', `${NOBODY}:${NOBODY}`, t.dir]);
  locked = join(t.dir, 'locked');
  await mkdir(locked, { mode: 0o700 });
  await symlink(join(t.root, 'spool'), join(locked, 'to-spool'));
});
afterAll(() => t?.cleanup());

/** The CLI as uid 65534. */
async function cliAsNobody(args: string[]) {
  const cli = join(t.dir, 'pkg', 'dist', 'cli.js');
  const setpriv = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
  const r = await execa('setpriv', [...setpriv, 'node', cli, ...args], { env: t.env, cwd: t.dir, reject: false, stdin: 'ignore' });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe.skipIf(!canSetpriv)('a path that cannot be looked at (uid 65534)', () => {
  // fails on main: readlink's EACCES read as "not a link", the path as written, and the job was queued
  it('submit: an argument path behind a directory it cannot search is an error, not a path that reaches nowhere', async () => {
    const r = await cliAsNobody(['submit', '--repo', repo, '--task', 'x', '--', '--add-dir', join(locked, 'to-spool')]);
    expect(r.stderr).toMatch(/EACCES: permission denied, readlink/);
    expect(r.code).toBe(1);
  });

  // fails on main: the file's lstat EACCES passed for "claimed by another worker", and the worker said nothing
  it('worker: an inbox file it cannot look at is left there, and said', async () => {
    const inbox = spoolLayout(t.root).dir('inbox');
    await writeFile(join(inbox, 'j1.json'), JSON.stringify({ repo, task: 'x' }));
    await chown(join(inbox, 'j1.json'), NOBODY, NOBODY);
    await chmod(inbox, 0o600); // listed, but no file in it can be looked at
    try {
      const r = await cliAsNobody(['worker', '--once', '--codex-bin', join(t.dir, 'pkg', 'fake-codex')]);
      expect(`${r.stdout}${r.stderr}`).toMatch(/cannot look at inbox\/j1\.json: EACCES/);
    } finally {
      await chmod(inbox, 0o700);
    }
    expect(await readdir(inbox)).toEqual(['j1.json']);
  });
});
