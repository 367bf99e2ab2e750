// Red team: spool/finished.log replaced by another user of a shared spool (--allow-shared-spool).
import { lstat, mkdir, mkdtemp, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fileLogged, rebuildFinishedLog } from '../src/spool/finished-log.js';
import { JOB_STATES, spoolLayout } from '../src/spool/layout.js';
import { statusSelection } from '../src/read/listing.js';

async function spoolWithLogLinkedTo() {
  const dir = await mkdtemp(join(tmpdir(), 'rt-flog-'));
  const layout = spoolLayout(join(dir, 'root'));
  for (const state of ['done', 'failed', 'rejected'] as const) await mkdir(layout.dir(state), { recursive: true });
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

it('status --last 1 shows the newest job even when the log vouches an older mtime for it (a file touched, or lines lost)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rt-flog-'));
  const layout = spoolLayout(join(dir, 'root'));
  for (const state of JOB_STATES) await mkdir(layout.dir(state), { recursive: true });
  const [a, b] = [join(layout.dir('done'), 'a.json'), join(layout.dir('done'), 'b.json')];
  await writeFile(a, '{}');
  await writeFile(b, '{}');
  await utimes(b, 2_000, 2_000);
  await utimes(a, 3_000, 3_000); // a is the newest file
  const bMtime = (await lstat(b)).mtimeMs;
  await writeFile(layout.finishedLog, `done/a.json 1000000\ndone/b.json ${bMtime}\n`); // a's line is stale
  const { shown } = statusSelection(layout, () => true, 1);
  expect(shown.map((e) => e.id)).toEqual(['a']);
});
