// `codex-spool claude install|uninstall`: the plugin's skill, commands and hooks (src/claude/) copied into a
// `.claude/` directory, with a record of exactly what was added so that uninstall takes out that and no more.
import { createHash } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { mergeSettings, unmergeSettings, type SettingsRecord } from './claude-settings.js';
import { packageFile } from './package-files.js';

/** What the hooks run; the skill and commands call `codex-spool` by the same name. */
export const HOOK_COMMAND = 'codex-spool claude hook';

/** The record of an install, in the .claude directory it was made in. */
export const MANIFEST_NAME = 'codex-spool.install.json';

/** The Claude Code plugin shipped with this package: src/claude/. */
export function pluginDir(): string {
  return packageFile('src/claude/');
}

/** .claude/<path> → contents: the plugin's skill and commands, as `claude install` writes them. */
export async function pluginFiles(dir = pluginDir()): Promise<Map<string, string>> {
  if (!(await stat(join(dir, '.claude-plugin', 'plugin.json')).catch(() => null))) {
    throw new InstallConflict(`the Claude Code plugin is missing from this installation (${dir})`);
  }
  const files = new Map<string, string>();
  files.set('skills/codex-spool/SKILL.md', await readFile(join(dir, 'skills', 'codex-spool', 'SKILL.md'), 'utf8'));
  for (const name of (await readdir(join(dir, 'commands'))).filter((n) => n.endsWith('.md')).sort()) {
    files.set(`commands/${name}`, await readFile(join(dir, 'commands', name), 'utf8'));
  }
  return files;
}

/** codex-spool.install.json */
export interface InstallManifest {
  v: 1;
  /** .claude-relative path → sha256 of the contents written. */
  files: Record<string, string>;
  /** Directories install created (.claude-relative, "." for .claude itself): removed again when empty. */
  created_dirs: string[];
  settings: SettingsRecord | null;
}

export interface InstallReport {
  claudeDir: string;
  written: string[];
  settingsChanged: boolean;
  changed: boolean;
}

/** A file in the way that install did not write: nothing is changed while there is one. */
export class InstallConflict extends Error {}

/** Installs the skill, commands and hooks into `claudeDir`. Installing again changes nothing. */
export async function install(claudeDir: string, files?: Map<string, string>): Promise<InstallReport> {
  const wanted = files ?? (await pluginFiles());
  const previous = await readManifest(claudeDir);
  const manifest: InstallManifest = { v: 1, files: { ...previous?.files }, created_dirs: [...(previous?.created_dirs ?? [])], settings: previous?.settings ?? null };

  const toWrite: [string, string][] = [];
  const conflicts: string[] = [];
  for (const [rel, content] of wanted) {
    const existing = await readIfFile(join(claudeDir, rel));
    if (existing === content) continue;
    if (existing === null || (previous?.files[rel] !== undefined && previous.files[rel] === sha256(existing))) toWrite.push([rel, content]);
    else conflicts.push(join(claudeDir, rel));
  }
  if (conflicts.length) throw new InstallConflict(`not codex-spool's, left alone (move them away first): ${conflicts.join(', ')}`);

  const settingsPath = join(claudeDir, 'settings.json');
  const before = await readIfFile(settingsPath);
  const merged = mergeSettings(before, HOOK_COMMAND, previous?.settings ?? undefined);

  const dirsNeeded = [...new Set([claudeDir, ...toWrite.map(([rel]) => dirname(join(claudeDir, rel))), ...(merged.text !== null ? [claudeDir] : [])])];
  for (const d of dirsNeeded) for (const made of await mkdirs(d, claudeDir)) if (!manifest.created_dirs.includes(made)) manifest.created_dirs.push(made);
  for (const [rel, content] of toWrite) {
    await writeFileAtomic(join(claudeDir, rel), content);
    manifest.files[rel] = sha256(content);
  }
  if (merged.text !== null) await writeFileAtomic(settingsPath, merged.text);
  manifest.settings = merged.record;
  manifest.created_dirs.sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));

  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  const manifestPath = join(claudeDir, MANIFEST_NAME);
  const changed = (await readIfFile(manifestPath)) !== text;
  if (changed) await writeFileAtomic(manifestPath, text);
  return { claudeDir, written: toWrite.map(([rel]) => rel), settingsChanged: merged.text !== null, changed: changed || toWrite.length > 0 || merged.text !== null };
}

export interface UninstallReport {
  claudeDir: string;
  installed: boolean;
  removed: string[];
  /** Files install wrote that have been edited since: left in place. */
  kept: string[];
  settingsChanged: boolean;
}

/** Removes what `install` added to `claudeDir`, and only that. */
export async function uninstall(claudeDir: string): Promise<UninstallReport> {
  const manifest = await readManifest(claudeDir);
  const report: UninstallReport = { claudeDir, installed: manifest !== null, removed: [], kept: [], settingsChanged: false };
  if (!manifest) return report;
  for (const [rel, hash] of Object.entries(manifest.files)) {
    const path = join(claudeDir, rel);
    const existing = await readIfFile(path);
    if (existing === null) continue;
    if (sha256(existing) !== hash) {
      report.kept.push(rel);
      continue;
    }
    await unlink(path);
    report.removed.push(rel);
  }
  if (manifest.settings) {
    const settingsPath = join(claudeDir, 'settings.json');
    const current = await readIfFile(settingsPath);
    const out = unmergeSettings(current, manifest.settings);
    if (out !== current) {
      report.settingsChanged = true;
      if (out === null) await unlink(settingsPath);
      else await writeFileAtomic(settingsPath, out);
    }
  }
  await unlink(join(claudeDir, MANIFEST_NAME));
  for (const rel of manifest.created_dirs) await rmdir(join(claudeDir, rel)).catch(() => undefined); // only if empty
  return report;
}

/** The manifest of an earlier install, or null. */
export async function readManifest(claudeDir: string): Promise<InstallManifest | null> {
  const text = await readIfFile(join(claudeDir, MANIFEST_NAME));
  if (text === null) return null;
  try {
    const m = JSON.parse(text) as InstallManifest;
    if (m?.v !== 1 || typeof m.files !== 'object' || !Array.isArray(m.created_dirs)) throw new Error('unknown format');
    return m;
  } catch (err) {
    throw new InstallConflict(`${join(claudeDir, MANIFEST_NAME)} is not an install record (${(err as Error).message}); remove it first`);
  }
}

/** True when `codex-spool` is an executable on PATH (what the skill, commands and hook run). */
export function onPath(name = 'codex-spool', path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((d) => {
    if (!d) return false;
    try {
      accessSync(join(d, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function readIfFile(path: string): Promise<string | null> {
  const st = await stat(path).catch(() => null);
  if (!st) return null;
  if (!st.isFile()) throw new InstallConflict(`${path} is not a regular file`);
  return readFile(path, 'utf8');
}

/** mkdir -p `dir`; returns the directories it created, relative to `base` ("." for base itself), deepest first. */
async function mkdirs(dir: string, base: string): Promise<string[]> {
  const made: string[] = [];
  let d = dir;
  const missing: string[] = [];
  while (!(await stat(d).catch(() => null))) {
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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
