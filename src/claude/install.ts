// `codex-spool claude install|uninstall`: the plugin's skill, commands and hooks (src/claude/plugin/) copied into a
// `.claude/` directory, with a record of exactly what was added so that uninstall takes out that and no more.
//
// The user's settings.json is theirs: it is rewritten only through a temp file with its mode and owner, in
// the directory of the file a symlink points to (the link stays a link), never when it is read-only, and
// its values are never copied (the record holds hashes and our entries). One install or uninstall runs at a
// time per .claude directory, and each reads and plans everything before it changes anything.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import '../util/zod.js';
import * as z from 'zod/mini';
import { writeFileAtomic } from '../spool/atomic-file.js';
import { SettingsRecord, mergeSettings, sha256, unmergeSettings } from './settings.js';
import { packageFile } from '../util/package-files.js';
import { unsafeOwnership } from '../spool/layout.js';
import { CliError, EXIT, ifMissing, isMissing } from '../util/errors.js';

/**
 * What the hooks run: the package's second bin, dist/codex-spool-hook (src/claude/codex-spool-hook.sh), which
 * answers "nothing new" without starting Node and hands everything else to `codex-spool claude hook`.
 */
export const HOOK_COMMAND = 'codex-spool-hook';
/** What installs by older versions added, still ours: installing again moves it to HOOK_COMMAND (mergeSettings). */
export const OLD_HOOK_COMMAND = 'codex-spool claude hook';

/**
 * The permissions.allow rules install adds: the commands the skill and slash commands run, by the name they
 * run them by, so that Claude Code runs them without asking. Only these: never `Bash(codex-spool:*)`, which
 * would also let the model run `prune --yes`, `retry`, `worker`, `install-service` or `claude install`.
 * (`Bash(X:*)` matches X alone or X followed by a space; Claude Code 2.1 also reads it as `Bash(X *)`.)
 */
export const ALLOW_RULES = ['submit', 'wait', 'result', 'status', 'resume', 'cancel', 'logs', 'doctor'].map(
  (sub) => `Bash(codex-spool ${sub}:*)`,
);

/** The record of an install, in the .claude directory it was made in. */
const MANIFEST_NAME = 'codex-spool.install.json';

/** The Claude Code plugin shipped with this package: src/claude/plugin/. */
function pluginDir(): string {
  return packageFile('src/claude/plugin/');
}

/** .claude/<path> → contents: the plugin's skill and commands, as `claude install` writes them. */
async function pluginFiles(dir = pluginDir()): Promise<Map<string, string>> {
  if (!(await stat(join(dir, '.claude-plugin', 'plugin.json')).catch(ifMissing(null)))) {
    throw new InstallConflict(`the Claude Code plugin is missing from this installation (${dir})`);
  }
  const files = new Map<string, string>();
  files.set('skills/codex-spool/SKILL.md', await readFile(join(dir, 'skills', 'codex-spool', 'SKILL.md'), 'utf8'));
  for (const name of (await readdir(join(dir, 'commands'))).filter((n) => n.endsWith('.md')).sort()) {
    files.set(`commands/${name}`, await readFile(join(dir, 'commands', name), 'utf8'));
  }
  return files;
}

/** codex-spool.install.json (mode 0600). Fields of older versions (copies of settings.json) are dropped. */
const InstallManifest = z.object({
  v: z.literal(1),
  files: z.record(z.string(), z.string()).check(z.describe('.claude-relative path → sha256 of the contents written')),
  created_dirs: z
    .array(z.string())
    .check(z.describe('Directories install created (.claude-relative, "." for .claude itself): removed again when empty')),
  settings: z.nullable(SettingsRecord),
});
type InstallManifest = z.infer<typeof InstallManifest>;

interface InstallReport {
  claudeDir: string;
  written: string[];
  settingsChanged: boolean;
  changed: boolean;
}

/** A file in the way that install did not write: nothing is changed while there is one. */
export class InstallConflict extends CliError {
  constructor(message: string) {
    super(message, EXIT.failed, { code: 'install_conflict' });
  }
}

/** Installs the skill, commands and hooks into `claudeDir`. Installing again changes nothing. */
export function install(claudeDir: string, files?: Map<string, string>): Promise<InstallReport> {
  return withInstallLock(claudeDir, async () => {
    const wanted = files ?? (await pluginFiles());
    const previous = await readManifest(claudeDir);
    const manifest: InstallManifest = {
      v: 1,
      files: { ...previous?.files },
      created_dirs: [...(previous?.created_dirs ?? [])],
      settings: previous?.settings ?? null,
    };

    const toWrite: [string, string][] = [];
    const conflicts: string[] = [];
    for (const [rel, content] of wanted) {
      const existing = await readIfFile(join(claudeDir, rel));
      if (existing === content) continue;
      if (existing === null || (previous?.files[rel] !== undefined && previous.files[rel] === sha256(existing)))
        toWrite.push([rel, content]);
      else conflicts.push(join(claudeDir, rel));
    }
    if (conflicts.length) throw new InstallConflict(`not codex-spool's, left alone (move them away first): ${conflicts.join(', ')}`);

    const settings = await readSettings(claudeDir);
    const merged = mergeSettings(settings.text, HOOK_COMMAND, previous?.settings ?? undefined, ALLOW_RULES);
    if (merged.text !== null) await assertWritable(settings);
    await assertOwnDirs(
      claudeDir,
      toWrite.map(([rel]) => rel),
    );

    const dirsNeeded = [...new Set([claudeDir, ...toWrite.map(([rel]) => dirname(join(claudeDir, rel)))])];
    for (const d of dirsNeeded)
      for (const made of await mkdirs(d, claudeDir)) if (!manifest.created_dirs.includes(made)) manifest.created_dirs.push(made);
    for (const [rel, content] of toWrite) {
      await writeFileAtomic(join(claudeDir, rel), content);
      manifest.files[rel] = sha256(content);
    }
    if (merged.text !== null) await replaceFile(settings.target, merged.text, settings.st);
    manifest.settings = merged.record;
    manifest.created_dirs.sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));

    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    const manifestPath = join(claudeDir, MANIFEST_NAME);
    const changed = (await readIfFile(manifestPath)) !== text || ((await stat(manifestPath)).mode & 0o777) !== 0o600;
    if (changed) await replaceFile(manifestPath, text, null);
    return {
      claudeDir,
      written: toWrite.map(([rel]) => rel),
      settingsChanged: merged.text !== null,
      changed: changed || toWrite.length > 0 || merged.text !== null,
    };
  });
}

interface UninstallReport {
  claudeDir: string;
  installed: boolean;
  removed: string[];
  /** Files install wrote that have been edited since: left in place. */
  kept: string[];
  settingsChanged: boolean;
  /** settings.json is now byte for byte what it was before install (or gone, as it was). */
  settingsRestored: boolean;
}

/**
 * Removes what `install` added to `claudeDir`, and only that. Reads and plans everything first: settings it
 * cannot parse or write stop it before anything is removed.
 */
export function uninstall(claudeDir: string): Promise<UninstallReport> {
  return withInstallLock(claudeDir, async () => {
    const manifest = await readManifest(claudeDir);
    const report: UninstallReport = {
      claudeDir,
      installed: manifest !== null,
      removed: [],
      kept: [],
      settingsChanged: false,
      settingsRestored: false,
    };
    if (!manifest) return report;

    const toRemove: string[] = [];
    for (const [rel, hash] of Object.entries(manifest.files)) {
      const existing = await readIfFile(join(claudeDir, rel));
      if (existing === null) continue;
      if (sha256(existing) === hash) toRemove.push(rel);
      else report.kept.push(rel);
    }
    const settings = await readSettings(claudeDir);
    const out = manifest.settings ? unmergeSettings(settings.text, manifest.settings) : settings.text;
    report.settingsChanged = out !== settings.text;
    if (report.settingsChanged) await assertWritable(settings);
    await assertOwnDirs(claudeDir, toRemove);

    if (report.settingsChanged) {
      // The link, not its target, when install's own file is to go: the user's dotfiles stay.
      if (out === null) await unlink(join(claudeDir, 'settings.json'));
      else await replaceFile(settings.target, out, settings.st);
      report.settingsRestored =
        manifest.settings?.original_sha256 !== undefined && (out === null ? null : sha256(out)) === manifest.settings.original_sha256;
    }
    for (const rel of toRemove) {
      await unlink(join(claudeDir, rel));
      report.removed.push(rel);
    }
    await unlink(join(claudeDir, MANIFEST_NAME));
    for (const rel of manifest.created_dirs) await rmdir(join(claudeDir, rel)).catch(() => undefined); // only if empty
    return report;
  });
}

/** The manifest of an earlier install, or null. */
async function readManifest(claudeDir: string): Promise<InstallManifest | null> {
  const text = await readIfFile(join(claudeDir, MANIFEST_NAME));
  if (text === null) return null;
  let why: string;
  try {
    const parsed = InstallManifest.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    why = 'unknown format';
  } catch (err) {
    why = (err as Error).message;
  }
  throw new InstallConflict(`${join(claudeDir, MANIFEST_NAME)} is not an install record (${why}); remove it first`);
}

/** settings.json as found: its text (null: none), the file to write (a symlink's target), and its stat. */
interface SettingsFile {
  path: string;
  target: string;
  text: string | null;
  st: Stats | null;
}

async function readSettings(claudeDir: string): Promise<SettingsFile> {
  const path = join(claudeDir, 'settings.json');
  const link = await lstat(path).catch(ifMissing(null));
  if (!link) return { path, target: path, text: null, st: null };
  const target = link.isSymbolicLink()
    ? await realpath(path).catch((err: unknown) => {
        if (!isMissing(err)) throw err;
        throw new InstallConflict(`${path} is a symlink to a missing file; point it at a file, or remove it`);
      })
    : path;
  const st = await stat(target);
  if (!st.isFile()) throw new InstallConflict(`${target} is not a regular file`);
  // Strictly UTF-8, BOM kept: a lenient decode would write U+FFFD over bytes that are not ours to change.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(await readFile(target));
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new InstallConflict(`${path} is not UTF-8 text: codex-spool will not rewrite it; fix it first`);
  }
  return { path, target, text, st };
}

/**
 * A settings.json we may rewrite: writable by its mode (root ignores modes; we do not), and, with the
 * directory it is written in, our own (our uid's, root included: root does not edit a user's
 * settings for them) and writable by no one else (another writer could change what we merge, or swap the
 * file between our read and our rename). Never chmods.
 */
async function assertWritable(f: SettingsFile): Promise<void> {
  const shown = f.target === f.path ? f.path : `${f.path} (-> ${f.target})`;
  if (f.st && (f.st.mode & 0o200) === 0) {
    throw new InstallConflict(
      `${shown} is read-only (mode ${modeText(f.st)}): codex-spool will not change that; make it writable, or add the hooks yourself`,
    );
  }
  const dir = dirname(f.target);
  const dirSt = await stat(dir).catch(ifMissing(null));
  for (const [what, st] of [
    [shown, f.st],
    [`${dir} (the directory of settings.json)`, dirSt],
  ] as const) {
    const problem = st && unsafeOwnership(st, THIS_USER);
    if (problem) {
      throw new InstallConflict(
        `${what} is ${problem} (mode ${modeText(st)}): codex-spool will not rewrite settings that are not only yours; fix its owner or mode, or add the hooks yourself`,
      );
    }
  }
}

/**
 * The directories from `claudeDir` down to each of `rels` (files to write or remove) that exist are ours alone,
 * as settings.json's must be: whoever else can write one could swap the skill Claude loads, or a file for a
 * link between our check and our write.
 */
async function assertOwnDirs(claudeDir: string, rels: string[]): Promise<void> {
  const dirs = new Set(
    rels.flatMap((rel) =>
      dirname(rel)
        .split(sep)
        .map((_, i, parts) => join(claudeDir, ...parts.slice(0, i + 1))),
    ),
  );
  for (const dir of [claudeDir, ...dirs]) {
    const st = await stat(dir).catch(ifMissing(null));
    if (!st) continue;
    if (!st.isDirectory()) throw new InstallConflict(`${dir} is not a directory`);
    const problem = unsafeOwnership(st, THIS_USER);
    if (problem)
      throw new InstallConflict(
        `${dir} is ${problem} (mode ${modeText(st)}): codex-spool will not write the skill and commands there; fix its owner or mode`,
      );
  }
}

const THIS_USER = `this user (uid ${process.getuid?.()})`;
const modeText = (st: Stats) => (st.mode & 0o777).toString(8).padStart(4, '0');

/**
 * Replaces `path` by `data` through a temp file beside it, created with the mode (and given the owner) of the
 * file it replaces — `like` — or 0600 for a new file, so that the content is never readable by more people
 * than before, not even for a moment.
 */
async function replaceFile(path: string, data: string, like: Stats | null): Promise<void> {
  if (like && like.nlink > 1) {
    // A hard-linked file (a dotfiles checkout) stays one file with its other names: rewritten in place,
    // which a rename would not do (a crash mid-write can then leave it partly written).
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(0);
      await fh.write(data, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return;
  }
  const mode = like ? like.mode & 0o7777 : 0o600;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode & 0o600);
  try {
    await fh.chmod(mode); // the exact mode, whatever the umask
    if (like && (like.uid !== process.getuid?.() || like.gid !== process.getgid?.())) await fh.chown(like.uid, like.gid);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined); // tidying only
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Lock waits: up to about 20 s for another install or uninstall of the same directory to finish. */
const LOCK_RETRIES = { retries: 100, minTimeout: 50, maxTimeout: 250 };

/**
 * Runs `fn` holding the install lock of `claudeDir`: `<claudeDir>.codex-spool-install.lock` beside it, since
 * `claudeDir` itself may not exist yet (and whoever creates it records that it did).
 */
async function withInstallLock<T>(claudeDir: string, fn: () => Promise<T>): Promise<T> {
  const { lock } = await import('proper-lockfile').then(
    (m) => (m as typeof import('proper-lockfile') & { default?: typeof import('proper-lockfile') }).default ?? m,
  );
  const lockfilePath = `${claudeDir}.codex-spool-install.lock`;
  let release: () => Promise<void>;
  try {
    release = await lock(claudeDir, { realpath: false, lockfilePath, retries: LOCK_RETRIES, stale: 10_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new InstallConflict(`another codex-spool claude install or uninstall is working on ${claudeDir} (lock ${lockfilePath})`);
    throw err;
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function readIfFile(path: string): Promise<string | null> {
  const st = await stat(path).catch(ifMissing(null));
  if (!st) return null;
  if (!st.isFile()) throw new InstallConflict(`${path} is not a regular file`);
  return readFile(path, 'utf8');
}

/** mkdir -p `dir`; returns the directories it created, relative to `base` ("." for base itself), deepest first. */
async function mkdirs(dir: string, base: string): Promise<string[]> {
  const made: string[] = [];
  let d = dir;
  const missing: string[] = [];
  while (!(await stat(d).catch(ifMissing(null)))) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    await mkdir(m);
    const rel = relative(base, m);
    if (rel === '' || !rel.startsWith('..')) made.push(rel === '' ? '.' : rel);
  }
  return made.reverse();
}

function depth(rel: string): number {
  return rel === '.' ? 0 : rel.split(sep).length;
}
