// spool/finished.log replaced by a symbolic link (another user of a shared spool, --allow-shared-spool):
// neither a filing nor prune writes through it.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { fileLogged, rebuildFinishedLog } from '../src/spool/finished-log.js';
import { spoolLayout } from '../src/spool/layout.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(() => t.cleanup());

async function spoolWithLogLinkedTo() {
  const dir = t.dir;
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
