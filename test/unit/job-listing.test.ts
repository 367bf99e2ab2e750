// Listing the spool for status and the Claude hook: names and stats only, and which files may be read.
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_JOB_BYTES } from '../../src/spool/schema.js';
import { listJobEntries } from '../../src/read/listing.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';

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
