// The code cache beside a bundle that was replaced in place by one of the same length (a hotfix,
// an upgrade copied over dist/ without removing the caches). V8's own check compares the source's LENGTH
// only, not its content: the old code must not run.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { endSpoolTest, makeTempRoot, projectRoot, type TempRoot } from './helpers/spool-env.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(() => endSpoolTest(t));

it('a bundle replaced by another of the same length runs the new code, not the cached old one', async () => {
  const pkg = join(t.dir, 'pkg');
  await cp(join(projectRoot, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.cache') });
  await cp(join(projectRoot, 'package.json'), join(pkg, 'package.json'));
  const cli = join(pkg, 'dist', 'cli.js');
  const help = async () => (await execa('node', [cli, 'status', '--help'], { env: t.env })).stdout;
  expect(await help()).toContain('show jobs: state'); // this run writes status.js.cache (status has a bundle of its own)
  const bundle = join(pkg, 'dist', 'status.js');
  await writeFile(bundle, (await readFile(bundle, 'utf8')).replace('show jobs: state', 'SHOW JOBS: STATE'));
  expect(await help()).toContain('SHOW JOBS: STATE');
});
