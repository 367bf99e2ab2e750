// The one check of a job id given on the command line, and the lookup it feeds: whatever the argument
// holds, the paths looked at stay in spool/<state>/, and only a JobId is accepted.
import { isRunName } from '../../src/spool/run-files.js';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, EXIT } from '../../src/util/errors.js';
import { findJobOrFail, parseJobIdArg } from '../../src/spool/lookup.js';
import { listJobEntries } from '../../src/read/listing.js';
import { JobId } from '../../src/spool/schema.js';
import { JOB_STATES, ensureSpool, spoolLayout, type SpoolLayout } from '../../src/spool/layout.js';
import { hostileArg } from '../helpers/hostile.js';

let tmp: string;
let layout: SpoolLayout;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-lookup-'));
  layout = spoolLayout(join(tmp, 'root'));
  await ensureSpool(layout);
  await writeFile(layout.job('done', 'x'), '{}');
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const usageError = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof CliError && err.exitCode === EXIT.usage ? err.message : null;
  }
  return null;
};

describe('parseJobIdArg', () => {
  it('accepts exactly the JobId schema; any other argument is one usage error, escaped, on one line', () => {
    fc.assert(
      fc.property(hostileArg, (arg) => {
        if (JobId.safeParse(arg).success) {
          expect(parseJobIdArg(arg)).toBe(arg);
          return;
        }
        const message = usageError(() => parseJobIdArg(arg));
        expect(message).toMatch(/^invalid job id ".*": /);
        expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
        expect(message!.length).toBeLessThan(250);
      }),
      { numRuns: 2000, examples: [['../done/x'], ['x/../../y'], ['.hidden'], ['a\nb'], ['']] },
    );
  });

  it('the id it returns always names a file directly in a spool state directory', () => {
    fc.assert(
      fc.property(hostileArg, (arg) => {
        if (!JobId.safeParse(arg).success) return;
        for (const state of JOB_STATES) expect(dirname(layout.job(state, parseJobIdArg(arg)))).toBe(layout.dir(state));
      }),
      { numRuns: 2000 },
    );
  });

  it('findJobOrFail: exit 2 for a path to an existing job, 3 for an unknown id', async () => {
    await expect(findJobOrFail(layout, '../done/x')).rejects.toMatchObject({ exitCode: EXIT.usage });
    await expect(findJobOrFail(layout, 'nope')).rejects.toMatchObject({ exitCode: EXIT.notFound, message: 'no such job: nope' });
    expect((await findJobOrFail(layout, 'x')).state).toBe('done');
  });

  it('a job file that cannot be looked at is an error, not "no such job"', async () => {
    const broken = spoolLayout(join(tmp, 'broken'));
    await mkdir(broken.spool, { recursive: true });
    await symlink(broken.dir('done'), broken.dir('done')); // lstat of a file in it: ELOOP, an errno root gets too (EACCES it does not)
    const err = await findJobOrFail(broken, 'loop').catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(CliError);
    expect(err).toMatchObject({ code: 'ELOOP' });
  });

  it('whatever holds a job name is that job, unread: a link loop, a FIFO, a directory', async () => {
    const path = layout.job('done', 'loop');
    await symlink(path, path);
    execFileSync('mkfifo', [layout.job('inbox', 'fifo')]);
    await mkdir(layout.job('failed', 'dir'));
    for (const [id, state] of [
      ['loop', 'done'],
      ['fifo', 'inbox'],
      ['dir', 'failed'],
    ])
      expect(await findJobOrFail(layout, id!), id).toMatchObject({ id, state, record: null, result: null, runId: null });
  });
});

describe('one job per id: the lookup order', () => {
  // Any set of directories holding a file of one id (a job mid-move, or an impostor in the inbox beside a
  // live job): `status ID`, `result`, `cancel`… (findJobOrFail) and the `status` listing pick the same
  // file, and never an inbox file while the id is live in active/ or deferred/.
  it('findJobOrFail and the status listing agree, and prefer a live job over the inbox', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.subarray([...JOB_STATES], { minLength: 1 }), async (states) => {
        const id = `id-${n++}`;
        for (const state of states) await writeFile(layout.job(state, id), JSON.stringify({ state }));
        const found = (await findJobOrFail(layout, id)).state;
        const listed = listJobEntries(layout).filter((e) => e.id === id);
        expect(listed.map((e) => e.state)).toEqual([found]); // one entry per id
        if (states.includes('active') || states.includes('deferred')) expect(found).not.toBe('inbox');
        if (states.includes('done')) expect(found).toBe('done');
        expect(states).toContain(found);
      }),
      { numRuns: 100 },
    );
  });
});

describe('a run named in a job file', () => {
  it('is a name under runs/, never a path out of it (a forged run_id is no run)', () => {
    for (const bad of ['../../outside', '/etc', 'a/b', '..', '.', '', 'x\0y', '.clock', '.hidden', 7, null])
      expect(isRunName(bad), String(bad)).toBe(false);
    for (const good of ['20261125-101502-8c41d0aa', 'r1', 'a.b']) expect(isRunName(good)).toBe(true);
  });
});

describe('a job file as read back', () => {
  const job = (text: string) => {
    const path = layout.job('failed', 'read-back');
    return writeFile(path, text).then(() => findJobOrFail(layout, 'read-back'));
  };
  it('reads a field of the wrong type as absent and keeps the rest, the result field by field', async () => {
    const found = await job(
      JSON.stringify({
        repo: 7,
        task: 't',
        runs: ['r1', 3, 'r2'],
        extra: [1],
        result: { status: 'odd', exit_code: 2, error: 'e', worktree: 'w' },
      }),
    );
    expect(found.record).toEqual({
      repo: undefined,
      task: 't',
      runs: ['r1', 'r2'],
      extra: [1],
      result: { status: undefined, exit_code: 2, error: 'e', worktree: undefined },
    });
    expect(found.result).toBeNull(); // not a JobResult: no run_id, summary, ...
  });
  it('keeps a whole result whole, its nulls included', async () => {
    const result = {
      run_id: null,
      session_id: null,
      status: 'cancelled',
      exit_code: null,
      elapsed_seconds: 0,
      final_message: null,
      error: 'x',
      summary: null,
    };
    expect((await job(JSON.stringify({ repo: '/r', task: 't', result }))).result).toEqual(result);
  });
  it('is null for a file that is not a JSON object, as for a rejected file', async () => {
    for (const text of ['[1]', 'null', '{"a":', '']) expect((await job(text)).record, text).toBeNull();
  });
});
