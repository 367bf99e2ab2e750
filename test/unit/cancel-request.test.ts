// The cancel request file names the run it cancels; a cancel removes only the request it wrote. And the
// one loop that waits for the spool to change.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_RUN, requestApplies, requestedRun, withdrawCancelRequest, writeCancelRequest } from '../../src/spool/cancel-request.js';
import { pollUntil } from '../../src/read/wait.js';
import { writeFileAtomic } from '../../src/spool/atomic-file.js';
import { ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';
import { readIfExists } from '../helpers/spool-env.js';

let tmp: string;
let layout: SpoolLayout;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-cancel-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

describe('cancel requests', () => {
  it('name their run on the first line; apply to that run only, or to any run when pending', async () => {
    const text = await writeCancelRequest(layout, 'j', 'run-1');
    expect(requestedRun(text)).toBe('run-1');
    expect(requestApplies('run-1', 'run-1')).toBe(true);
    expect(requestApplies('run-1', 'run-2')).toBe(false);
    expect(requestApplies(PENDING_RUN, null)).toBe(true);
    expect(requestApplies(PENDING_RUN, 'run-2')).toBe(true);
    expect(requestApplies(requestedRun(''), 'run-1')).toBe(false); // an old-style or empty request names no run
  });

  it('a cancel withdraws only the request it wrote', async () => {
    const mine = await writeCancelRequest(layout, 'j', 'run-1');
    const theirs = await writeCancelRequest(layout, 'j', 'run-1'); // another cancel of the same run
    expect(mine).not.toBe(theirs);
    expect(await withdrawCancelRequest(layout, 'j', mine)).toBe(false);
    expect(await readIfExists(layout.cancelRequest('j'))).toBe(theirs);
    expect(await withdrawCancelRequest(layout, 'j', theirs)).toBe(true);
    expect(await readIfExists(layout.cancelRequest('j'))).toBeNull();
  });
});

describe('pollUntil', () => {
  it('returns what the check finds once a watched directory changes, without waiting for the re-check', async () => {
    const path = layout.job('done', 'x');
    const found = pollUntil(() => readIfExists(path), { dirs: [layout.dir('done')], recheckMs: 3_600_000 });
    await writeFileAtomic(path, 'here'); // as the worker publishes: a reader never sees it half-written
    expect(await found).toBe('here'); // the test's own timeout fails it if only the hourly re-check would see it
  });

  it('returns null at the timeout', async () => {
    expect(await pollUntil(async () => null, { dirs: [join(tmp, 'missing')], recheckMs: 10, timeoutMs: 50 })).toBeNull();
  });
});
