import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  JOB_STATES,
  ensureSpool,
  isJobFileName,
  jobIdOf,
  resolveRoot,
  resolveRootWithSource,
  spoolLayout,
} from '../../src/spool/layout.js';

describe('spoolLayout (pure)', () => {
  it('paths of states, jobs and runs under an absolute root', () => {
    const l = spoolLayout('/srv/cs');
    expect(l.root).toBe('/srv/cs');
    expect(l.runs).toBe('/srv/cs/runs');
    expect(l.dir('inbox')).toBe('/srv/cs/spool/inbox');
    expect(l.job('done', 'a.b')).toBe('/srv/cs/spool/done/a.b.json');
  });

  it('resolves a relative root', () => {
    expect(spoolLayout('rel').root).toBe(resolve('rel'));
  });

  it('resolveRoot: the argument wins', () => {
    expect(resolveRoot('/x/y/../z')).toBe('/x/z');
  });

  it('resolveRoot: --root, else $CODEX_SPOOL_ROOT, else the package directory (the integration test runs it from elsewhere)', () => {
    const pkg = resolve(fileURLToPath(new URL('../..', import.meta.url)));
    const dir = fc.option(fc.constantFrom('/a', '/b/c', 'rel', '/d/../e', ''), { nil: undefined });
    fc.assert(
      fc.property(dir, dir, (flag, env) => {
        const got = resolveRootWithSource(flag, env === undefined ? {} : { CODEX_SPOOL_ROOT: env });
        const expected = flag
          ? { root: resolve(flag), source: '--root' }
          : env
            ? { root: resolve(env), source: '$CODEX_SPOOL_ROOT' }
            : { root: pkg, source: 'package' };
        expect(got).toEqual(expected);
      }),
    );
  });
});

describe('isJobFileName / jobIdOf', () => {
  it('accepts <stem>.json, refuses dotfiles, bare .json and other extensions', () => {
    expect(isJobFileName('a.json')).toBe(true);
    expect(isJobFileName('a.b.json')).toBe(true);
    expect(isJobFileName('.a.json')).toBe(false);
    expect(isJobFileName('.a.json.123.ab.tmp')).toBe(false);
    expect(isJobFileName('.json')).toBe(false);
    expect(isJobFileName('a.json.lock')).toBe(false);
    expect(isJobFileName('a.txt')).toBe(false);
  });

  it('jobIdOf strips .json', () => {
    expect(jobIdOf('a.b.json')).toBe('a.b');
  });
});

describe('ensureSpool', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'codex-spool-unit-layout-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  it('creates every state directory and runs/, and is idempotent', async () => {
    const l = spoolLayout(join(tmp, 'root'));
    await ensureSpool(l);
    await ensureSpool(l);
    expect((await readdir(join(tmp, 'root', 'spool'))).sort()).toEqual([...JOB_STATES].sort());
    for (const s of JOB_STATES) expect((await stat(l.dir(s))).isDirectory()).toBe(true);
    expect((await stat(l.runs)).isDirectory()).toBe(true);
  });
});
