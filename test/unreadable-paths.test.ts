// Errors other than "not there" surface: an EACCES never passes for absent. Mode bits do not stop root, so
// each command runs as uid 65534 (setpriv), from a copy of dist/ in the test's temp dir (the clone may be
// where that user cannot go), on a root that user owns.
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempRoot, projectRoot, type TempRoot } from './helpers/spool-env.js';

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
  return { code: r.exitCode, stderr: String(r.stderr) };
}

describe.skipIf(!canSetpriv)('a path that cannot be looked at (uid 65534)', () => {
  // fails on main: readlink's EACCES read as "not a link", the path as written, and the job was queued
  it('submit: an argument path behind a directory it cannot search is an error, not a path that reaches nowhere', async () => {
    const r = await cliAsNobody(['submit', '--repo', repo, '--task', 'x', '--', '--add-dir', join(locked, 'to-spool')]);
    expect(r.stderr).toMatch(/EACCES: permission denied, readlink/);
    expect(r.code).toBe(1);
  });
});
