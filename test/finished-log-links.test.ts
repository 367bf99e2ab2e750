// spool/finished.log replaced by a symbolic link or a FIFO (another user of a shared spool,
// --allow-shared-spool): neither a filing nor prune writes through the link or waits on the FIFO.
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { fileLogged, readFinishedLog, rebuildFinishedLog } from '../src/spool/finished-log.js';
import { spoolLayout } from '../src/spool/layout.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(() => t.cleanup());

async function spoolWithStates() {
  const layout = spoolLayout(join(t.dir, 'root'));
  for (const state of ['done', 'failed', 'rejected'] as const) await mkdir(layout.dir(state), { recursive: true });
  return layout;
}

async function spoolWithLogLinkedTo() {
  const dir = t.dir;
  const layout = await spoolWithStates();
  const victim = join(dir, 'victim-bashrc');
  await writeFile(victim, 'mine\n');
  await symlink(victim, layout.finishedLog);
  return { layout, victim };
}

it('a filing does not append through a symbolic link put in place of finished.log', async () => {
  const { layout, victim } = await spoolWithLogLinkedTo();
  await fileLogged(layout, join(layout.dir('done'), 'j1.json'), () => writeFile(join(layout.dir('done'), 'j1.json'), '{}'));
  expect(await readFile(victim, 'utf8')).toBe('mine\n');
});

it('prune does not append through a symbolic link put in place of finished.log', async () => {
  const { layout, victim } = await spoolWithLogLinkedTo();
  await rebuildFinishedLog(layout);
  expect(await readFile(victim, 'utf8')).toBe('mine\n');
});

// A FIFO without a reader blocks an open for writing for ever, and a read of one opened read-write: the
// worker hung at its next filing (finish or reject), prune at its rebuild of the log.
it('a filing does not wait on a FIFO put in place of finished.log, and logs to a regular file again', async () => {
  const layout = await spoolWithStates();
  execFileSync('mkfifo', [layout.finishedLog]);
  const job = join(layout.dir('done'), 'j1.json');
  await fileLogged(layout, job, () => writeFile(job, '{}'));
  expect((await lstat(layout.finishedLog)).isFile()).toBe(true);
  expect(readFinishedLog(layout).done.get('j1.json')).toBe((await lstat(job)).mtimeMs);
});

it('prune does not wait on a FIFO put in place of finished.log, and rebuilds it as a regular file', async () => {
  const layout = await spoolWithStates();
  const job = join(layout.dir('failed'), 'j2.json');
  await writeFile(job, '{}');
  execFileSync('mkfifo', [layout.finishedLog]);
  await rebuildFinishedLog(layout);
  expect((await lstat(layout.finishedLog)).isFile()).toBe(true);
  expect(readFinishedLog(layout).failed.get('j2.json')).toBe((await lstat(job)).mtimeMs);
});
