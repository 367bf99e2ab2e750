// Files shipped with the package (package.json, the systemd template, the Claude plugin, the CLI itself).
// Found from this module's own place: src/package-files.ts when run from source (tests), or a bundle file
// in dist/ when built. Both are one level below the package root.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The absolute path of `path`, relative to the package root. */
export function packageFile(path: string): string {
  return fileURLToPath(new URL(`../${path}`, import.meta.url));
}

/** codex-spool's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
}
