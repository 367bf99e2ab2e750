// The one PATH lookup (install-service's Codex, doctor's and `claude install`'s codex-spool).
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, isExecutableFile } from '../../src/util/path-lookup.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-unit-path-'));
  for (const d of ['a', 'b', 'c']) await mkdir(join(dir, d));
  await writeFile(join(dir, 'a', 'tool'), 'plain file, not executable');
  await mkdir(join(dir, 'b', 'tool')); // a directory is "executable" to access(2), but no command
  await writeFile(join(dir, 'c', 'tool'), '#!/bin/sh\n');
  await chmod(join(dir, 'c', 'tool'), 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('findOnPath', () => {
  it('finds the first executable regular file, skipping empty entries, plain files and directories', () => {
    const path = ['', join(dir, 'missing'), join(dir, 'b'), join(dir, 'c'), join(dir, 'a')].join(delimiter);
    expect(findOnPath('tool', path)).toBe(join(dir, 'c', 'tool'));
    expect(findOnPath('nothing', path)).toBeNull();
  });

  it('answers an absolute path for a relative PATH entry', () => {
    expect(findOnPath('tool', relative(process.cwd(), join(dir, 'c')))).toBe(join(dir, 'c', 'tool'));
  });

  it('isExecutableFile: only a regular file', () => {
    expect([isExecutableFile(join(dir, 'c', 'tool')), isExecutableFile(join(dir, 'b', 'tool')), isExecutableFile(join(dir, 'x'))]).toEqual([
      true,
      false,
      false,
    ]);
  });
});
