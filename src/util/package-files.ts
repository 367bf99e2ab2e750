// Files shipped with the package (package.json, the systemd template, the Claude plugin, the CLI itself).
// Found from this module's own place: src/util/package-files.ts when run from source (tests), a bundle file in
// dist/ when built. The package root is the nearest directory above it that holds package.json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');

/** The absolute path of `path`, relative to the package root. */
export function packageFile(path: string): string {
  return join(root, path);
}

/** codex-spool's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}
