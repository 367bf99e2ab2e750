// The folders of src/ are layers (docs/architecture.md): a module imports only from its own folder or one
// below it, so the tree reads bottom to top and nothing low depends on a command or on Claude.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** What each folder may import besides itself ('' is the entry: src/cli.ts and src/main.ts). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  util: [],
  spool: ['util'],
  codex: ['util', 'spool'],
  worker: ['util', 'spool', 'codex'],
  read: ['util', 'spool', 'codex'],
  doctor: ['util', 'spool', 'codex'],
  claude: ['util', 'spool', 'codex', 'read'],
  cli: ['util', 'spool', 'codex', 'read', 'claude', 'doctor', 'worker'],
  commands: ['util', 'spool', 'codex', 'read', 'claude', 'doctor', 'worker', 'cli'],
  '': ['util', 'spool', 'codex', 'read', 'claude', 'doctor', 'worker', 'cli', 'commands'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'plugin' ? [] : sources(join(dir, e.name))) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const folderOf = (file: string) => relative(SRC, dirname(file)).split('/')[0]!;

/** Every relative import (static, type-only or dynamic) of a module, as the folder it lands in. */
function importedFolders(file: string): { spec: string; folder: string }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map(([, spec]) => ({
    spec: spec!,
    folder: folderOf(resolve(dirname(file), spec!)),
  }));
}

describe('layers', () => {
  it('every folder of src/ is a known layer', () => {
    expect(new Set(sources(SRC).map(folderOf))).toEqual(new Set(Object.keys(MAY_IMPORT)));
  });

  it('no module imports from a layer above its own', () => {
    const upward = sources(SRC).flatMap((file) => {
      const own = folderOf(file);
      return importedFolders(file)
        .filter(({ folder }) => folder !== own && !MAY_IMPORT[own]!.includes(folder))
        .map(({ spec }) => `${relative(SRC, file)} imports ${spec}`);
    });
    expect(upward).toEqual([]);
  });
});
