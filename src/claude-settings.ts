// Merging codex-spool's hooks into a Claude Code settings.json, and taking them out again. Pure: text in, text out.
//
// Install adds one `{"hooks":[{"type":"command","command":…}]}` group per event that does not already run
// our command, and touches nothing else (key order, the user's hooks, other settings all stay). It returns a
// record of what it added — the entries and a hash of the file before, never a copy of the user's settings
// (they may hold tokens) — and uninstall removes exactly that, keeping the file's indentation and final
// newline: a file written as JSON.stringify writes it (as Claude Code does) comes back byte for byte.
import { createHash } from 'node:crypto';
import * as z from 'zod';

/** The events our hook runs on. */
export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** Seconds Claude Code gives the hook before it gives up on it. */
export const HOOK_TIMEOUT_S = 10;

const Event = z.enum(HOOK_EVENTS);

/** What install did to settings.json: enough for uninstall to undo exactly that, and no settings value. */
export const SettingsRecord = z.object({
  command: z.string().describe('The hook command added: the entry is {"hooks":[{"type":"command","command":…,"timeout":…}]}'),
  added: z.array(Event).describe('Events whose hook list got our entry (an event already running the command is left alone)'),
  created_file: z.boolean().describe('settings.json did not exist: uninstall deletes it if nothing else is left in it'),
  created_hooks: z.boolean().describe('The `hooks` object install created: removed again once empty'),
  created_events: z.array(Event).describe('The event arrays install created: removed again once empty'),
  original_sha256: z
    .string()
    .nullable()
    .optional()
    .describe('sha256 of settings.json before install (null: no file), when it held none of our hooks: tells uninstall it restored it'),
});
export type SettingsRecord = z.infer<typeof SettingsRecord>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** settings.json is not what we can merge into (not JSON, not an object, hooks of the wrong shape). */
export class SettingsError extends Error {}

type Json = Record<string, unknown>;

/** The hooks.json / settings `hooks` value that runs `command` on every HOOK_EVENTS event. */
export function hooksFor(command: string): Record<HookEvent, { hooks: { type: 'command'; command: string; timeout: number }[] }[]> {
  const group = () => ({ hooks: [{ type: 'command' as const, command, timeout: HOOK_TIMEOUT_S }] });
  return { SessionStart: [group()], UserPromptSubmit: [group()] };
}

/**
 * Adds our hook to `text` (the current settings.json, null if none). Returns the new text, or null when
 * nothing needs to change (then the file must be left byte for byte). `previous` is the record of an earlier
 * install into the same file: what it added stays ours.
 */
export function mergeSettings(text: string | null, command: string, previous?: SettingsRecord): { text: string | null; record: SettingsRecord } {
  const settings = parseSettings(text);
  const style = styleOf(text);
  const stillOurs = (e: HookEvent) => Boolean(previous?.added.includes(e) && previous.command === command && runsCommand(settings, e, command));
  const record: SettingsRecord = {
    command,
    added: HOOK_EVENTS.filter(stillOurs),
    created_file: text === null || Boolean(previous?.created_file),
    created_hooks: Boolean(previous?.created_hooks && settings.hooks !== undefined),
    created_events: (previous?.created_events ?? []).filter((e) => hooksOf(settings)?.[e] !== undefined),
  };
  const missing = HOOK_EVENTS.filter((e) => !runsCommand(settings, e, command));
  // Nothing to add: the file stays as it is, and so does what an earlier install recorded about it.
  if (missing.length === 0) return { text: null, record: previous && previous.command === command ? previous : record };
  const hadOurs = HOOK_EVENTS.some((e) => runsCommand(settings, e, command));
  if (settings.hooks === undefined) {
    settings.hooks = {};
    record.created_hooks = true;
  }
  const hooks = settings.hooks as Json;
  const groups = hooksFor(command);
  for (const e of missing) {
    if (hooks[e] === undefined) {
      hooks[e] = [];
      record.created_events.push(e);
    }
    (hooks[e] as unknown[]).push(groups[e][0]);
    record.added.push(e);
  }
  record.added.sort();
  record.created_events = [...new Set(record.created_events)].sort();
  // The original is a faithful "before" only when it held none of our hooks.
  if (!hadOurs) record.original_sha256 = text === null ? null : sha256(text);
  return { text: serialize(settings, style), record };
}

/**
 * Takes out of `text` what `record` says install added. Returns the new text, null to delete the file,
 * or `text` itself when there is nothing of ours in it.
 */
export function unmergeSettings(text: string | null, record: SettingsRecord): string | null {
  if (text === null) return null;
  const settings = parseSettings(text);
  const hooks = hooksOf(settings);
  if (!hooks) return text;
  let changed = false;
  for (const e of record.added) {
    const groups = hooks[e];
    if (!Array.isArray(groups)) continue;
    const kept: unknown[] = [];
    for (const g of groups) {
      const inner = isObject(g) && Array.isArray(g.hooks) ? g.hooks : null;
      if (!inner || !inner.some((h) => isOurHook(h, record.command))) {
        kept.push(g);
        continue;
      }
      changed = true;
      const rest = inner.filter((h) => !isOurHook(h, record.command));
      if (rest.length) kept.push({ ...g, hooks: rest });
    }
    hooks[e] = kept;
    if (kept.length === 0 && record.created_events.includes(e)) delete hooks[e];
  }
  if (!changed) return text;
  if (record.created_hooks && Object.keys(hooks).length === 0) delete settings.hooks;
  if (record.created_file && Object.keys(settings).length === 0) return null;
  return serialize(settings, styleOf(text));
}

/** True when `text` runs `command` on every HOOK_EVENTS event. */
export function hasOurHooks(text: string | null, command: string): boolean {
  const settings = parseSettings(text);
  return HOOK_EVENTS.every((e) => runsCommand(settings, e, command));
}

function parseSettings(text: string | null): Json {
  if (text === null || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`settings.json is not valid JSON (${(err as Error).message}); fix it first`);
  }
  if (!isObject(value)) throw new SettingsError('settings.json is not a JSON object; fix it first');
  if (value.hooks !== undefined) {
    if (!isObject(value.hooks)) throw new SettingsError('settings.json "hooks" is not an object; fix it first');
    for (const e of HOOK_EVENTS) {
      const groups = value.hooks[e];
      if (groups !== undefined && !Array.isArray(groups)) throw new SettingsError(`settings.json "hooks.${e}" is not an array; fix it first`);
    }
  }
  return value;
}

function hooksOf(settings: Json): Json | null {
  return isObject(settings.hooks) ? settings.hooks : null;
}

function runsCommand(settings: Json, event: HookEvent, command: string): boolean {
  const groups = hooksOf(settings)?.[event];
  if (!Array.isArray(groups)) return false;
  return groups.some((g) => isObject(g) && Array.isArray(g.hooks) && g.hooks.some((h) => isOurHook(h, command)));
}

function isOurHook(h: unknown, command: string): boolean {
  return isObject(h) && h.type === 'command' && h.command === command;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Style {
  indent: string;
  newline: boolean;
}

/** The indentation and final newline of existing settings (2 spaces and a newline for a new file). */
function styleOf(text: string | null): Style {
  if (text === null || text.trim() === '') return { indent: '  ', newline: true };
  const m = /\n([ \t]+)\S/.exec(text);
  return { indent: m ? m[1]! : text.trimEnd().includes('\n') ? '  ' : '', newline: text.endsWith('\n') };
}

function serialize(settings: Json, style: Style): string {
  const body = style.indent ? JSON.stringify(settings, null, style.indent) : JSON.stringify(settings);
  return style.newline ? `${body}\n` : body;
}
