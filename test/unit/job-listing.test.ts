// Listing the spool for status and the Claude hook: names and stats only, and which files may be read.
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_JOB_BYTES } from '../../src/spool/schema.js';
import { listJobEntries, selectForStatus } from '../../src/read/listing.js';
import { FINISHED_STATES, ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';

let tmp: string;
let layout: SpoolLayout;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-listing-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

describe('listJobEntries', () => {
  it('marks a file over the default job size unreadable, so status never reads a rejected 10 MiB file', async () => {
    await writeFile(layout.job('rejected', 'junk'), '');
    await truncate(layout.job('rejected', 'junk'), 10 * 1024 * 1024);
    await writeFile(layout.job('rejected', 'edge'), Buffer.alloc(DEFAULT_MAX_JOB_BYTES, 0x20));
    await writeFile(layout.job('done', 'small'), '{}');
    const readable = Object.fromEntries(listJobEntries(layout).map((e) => [e.id, e.readable]));
    expect(readable).toEqual({ junk: false, edge: true, small: true });
  });
});

describe('selectForStatus', () => {
  it('shows the n newest finished jobs as the last n of them all sorted by age (ties at the cut included), from listings in any order or oldest first (the cache)', () => {
    const entry = fc.record({
      id: fc.stringMatching(/^[a-e]{1,2}$/),
      state: fc.constantFrom('done' as const, 'failed' as const, 'rejected' as const),
      mtimeMs: fc.integer({ min: 1, max: 5 }), // few values: ties
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.id, maxLength: 30 }), fc.nat(35), fc.boolean(), (picked, n, sorted) => {
        const listed = FINISHED_STATES.map((state) => {
          const files = picked.filter((e) => e.state === state);
          if (sorted) files.sort((a, b) => a.mtimeMs - b.mtimeMs);
          return {
            state,
            dir: state,
            names: files.map((e) => `${e.id}.json`),
            mtimes: files.map((e) => e.mtimeMs),
            readable: files.map(() => true),
            sorted,
          };
        });
        const all = selectForStatus(listed, null).shown;
        const newest = selectForStatus(listed, n);
        expect(newest.shown).toEqual(n === 0 ? [] : all.slice(-n));
        expect(newest.omitted).toBe(all.length - newest.shown.length);
      }),
    );
  });
});
