// Over FUSE (sshfs) a link is two steps: the server makes the link, then libfuse looks the new name up. A
// worker on another host that claims the file in between (renames it into active/) makes the link fail
// ENOENT although it was made. Linking again then published a second copy of the job: in the multihost
// chaos test, jobs submitted through sshfs were run, then "rejected as a duplicate" of themselves, and the
// test waited for jobs that were done (done + rejected is no final state). Here `link` behaves as through
// FUSE: the real link, then, for a claimed publication, the file moved on and ENOENT. (Not in test/unit:
// it mocks a module, and the unit project shares its module graph between files.)
import fc from 'fast-check';
import * as fsp from 'node:fs/promises';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileAtomic, linkNoReplace } from '../src/spool/atomic-file.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, link: vi.fn(real.link) };
});
const link = vi.mocked(fsp.link);
const realLink = link.getMockImplementation()!;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-unit-link-'));
  for (const sub of ['inbox', 'active', 'deferred', 'claimed']) await mkdir(join(dir, sub));
});
afterEach(async () => {
  link.mockReset();
  link.mockImplementation(realLink);
  await rm(dir, { recursive: true, force: true });
});

/** `link` as through FUSE: each call in `claimed` order either plainly links, or links and the new name is taken first. */
function linkThroughFuse(claimed: boolean[]) {
  let call = 0;
  link.mockImplementation(async (from, to) => {
    await realLink(from, to);
    if (!claimed[call++ % claimed.length]) return;
    await rename(to, join(dir, 'claimed', `${call}`)); // another host's claim, before libfuse's lookup
    throw Object.assign(new Error(`ENOENT: no such file or directory, link '${String(from)}' -> '${String(to)}'`), { code: 'ENOENT' });
  });
}

/** Every copy of each published text: where a job file is now (queued, or claimed). */
async function copies(dirs: string[]): Promise<string[]> {
  const texts: string[] = [];
  for (const d of dirs)
    for (const name of await readdir(join(dir, d))) if (!name.startsWith('.')) texts.push(await readFile(join(dir, d, name), 'utf8'));
  return texts.sort();
}

describe('a link made, its new name taken before it was looked up (FUSE)', () => {
  it('publishes each file exactly once, and the publication succeeds (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), async (claimed) => {
        await rm(dir, { recursive: true, force: true });
        for (const sub of ['inbox', 'active', 'deferred', 'claimed']) await mkdir(join(dir, sub), { recursive: true });
        link.mockClear();
        linkThroughFuse(claimed);
        const jobs = claimed.map((_, i) => `job ${i}`);
        // A submit (temp file, link into the inbox) and a requeue's move (link active/ → deferred/, unlink).
        for (const [i, text] of jobs.entries()) {
          if (i % 2 === 0) await createFileAtomic(join(dir, 'inbox', `${i}.json`), text);
          else {
            await writeFile(join(dir, 'active', `${i}.json`), text);
            await linkNoReplace(join(dir, 'active', `${i}.json`), join(dir, 'deferred', `${i}.json`));
          }
        }
        expect(await copies(['inbox', 'deferred', 'claimed'])).toEqual([...jobs].sort());
        expect(await readdir(join(dir, 'inbox')).then((names) => names.filter((n) => n.startsWith('.')))).toEqual([]); // no temp file left
        expect(link).toHaveBeenCalledTimes(jobs.length); // one link each: never a second copy
      }),
      { numRuns: 40 },
    );
  });

  it('a link that really failed still fails: no target directory, no source', async () => {
    await expect(linkNoReplace(join(dir, 'active', 'missing.json'), join(dir, 'deferred', 'x.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await writeFile(join(dir, 'active', 'a.json'), 'a');
    await expect(linkNoReplace(join(dir, 'active', 'a.json'), join(dir, 'gone', 'a.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(createFileAtomic(join(dir, 'gone', 'b.json'), 'b')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await copies(['inbox', 'deferred', 'claimed'])).toEqual([]);
  });
});
