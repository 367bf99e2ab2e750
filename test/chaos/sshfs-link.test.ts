// Chaos 9: publishing a job file through sshfs while another host claims it at once. Over FUSE a link is
// made, then its new name looked up; a claim in between (a rename on the server's own file system, as
// the multihost test's local host does) made the link fail ENOENT although it was made, and the link tried
// again published a second copy: a job run, then "rejected as a duplicate" of itself. Each publication
// here (a submit's temp file linked into inbox/) must succeed and leave exactly one copy.
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileAtomic } from '../../src/spool/atomic-file.js';
import { fuseUnavailable, startSshfsBed, UNCACHED_MOUNT, type SshfsBed } from '../helpers/sshfs-bed.js';
import { waitFor } from '../helpers/spool-env.js';
import { CHAOS } from './fixtures/chaos-kit.js';

const FILES = 100;

let bed: SshfsBed | null = null;
let dir: string | null = null;
afterEach(async () => {
  await bed?.close(); // unmount first: the temp directory is never removed through a mount
  bed = null;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

describe.skipIf(!CHAOS || fuseUnavailable())('chaos: a link through sshfs whose new name is claimed at once', () => {
  it('every publication succeeds, each file exactly once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'codex-spool-sshfs-link-'));
    bed = await startSshfsBed(join(dir, 'sshd'));
    const served = join(dir, 'served');
    for (const sub of ['inbox', 'claimed']) await mkdir(join(served, sub), { recursive: true });
    const mount = join(dir, 'mount');
    await mkdir(mount);
    await bed.mount(served, mount, UNCACHED_MOUNT);
    // The other host: moves each job file out of the inbox the moment it appears (a unique name each, so
    // that a second copy is kept and counted, never replaced).
    let claims = 0;
    const claimer = watch(join(served, 'inbox'), (_event, name) => {
      if (!name?.endsWith('.json')) return;
      rename(join(served, 'inbox', name), join(served, 'claimed', `${name}.${claims++}`)).catch(() => undefined); // gone: claimed already
    });
    const errors: string[] = [];
    try {
      for (let i = 0; i < FILES; i++) {
        await createFileAtomic(join(mount, 'inbox', `j${i}.json`), `{"n":${i}}`).catch((err: Error) => errors.push(err.message));
      }
      const queued = async () => (await readdir(join(served, 'inbox'))).some((n) => n.endsWith('.json'));
      await waitFor('the claimer to take every file', async () => !(await queued()), 10_000);
    } finally {
      claimer.close();
    }
    const claimed = await readdir(join(served, 'claimed'));
    const texts = await Promise.all(claimed.map((n) => readFile(join(served, 'claimed', n), 'utf8')));
    expect({ errors, copies: texts.sort() }).toEqual({
      errors: [],
      copies: Array.from({ length: FILES }, (_, i) => `{"n":${i}}`).sort(),
    });
  }, 120_000);
});
