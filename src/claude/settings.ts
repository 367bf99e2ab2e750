// Merging codex-spool's hooks and permission rules into a Claude Code settings.json, and taking them out again.
// Pure: text in, text out.
//
// Install adds one `{"hooks":[{"type":"command","command":…}]}` group per event that does not already run
// our command, and each of our `permissions.allow` rules the file lacks. It edits the file as text
// (src/util/json-text.ts): our entries are inserted, laid out like the file, and every other byte stays (spacing,
// line ends, escapes, number spellings, duplicate keys). It returns a record of what it added — the entries
// and a hash of the file before, never a copy of the user's settings (they may hold tokens) — and uninstall
// cuts exactly those entries out again, so a file nothing else changed comes back byte for byte, and one the
// user edited since keeps their edits.
import { createHash } from 'node:crypto';
import '../util/zod.js';
import * as z from 'zod/mini';
import { appendChild, childCount, memberOf, parseSpans, removeChild, type JsonNode } from '../util/json-text.js';
import { CliError, EXIT } from '../util/errors.js';
import { isObject } from '../util/json-value.js';

/** The events our hook runs on. */
export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit'] as const;
type HookEvent = (typeof HOOK_EVENTS)[number];

/** Seconds Claude Code gives the hook before it gives up on it. */
const HOOK_TIMEOUT_S = 10;

const Event = z.enum(HOOK_EVENTS);

/** What install did to settings.json: enough for uninstall to undo exactly that, and no settings value. */
export const SettingsRecord = z.object({
  command: z.string().check(z.describe('The hook command added: the entry is {"hooks":[{"type":"command","command":…,"timeout":…}]}')),
  added: z.array(Event).check(z.describe('Events whose hook list got our entry (an event already running the command is left alone)')),
  created_file: z.boolean().check(z.describe('settings.json did not exist: uninstall deletes it if nothing else is left in it')),
  created_hooks: z.boolean().check(z.describe('The `hooks` object install created: removed again once empty')),
  created_events: z.array(Event).check(z.describe('The event arrays install created: removed again once empty')),
  allow_added: z
    ._default(z.array(z.string()), [])
    .check(z.describe('permissions.allow rules install added (a rule already there is left alone)')),
  created_permissions: z
    ._default(z.boolean(), false)
    .check(z.describe('The `permissions` object install created: removed again once empty')),
  created_allow: z
    ._default(z.boolean(), false)
    .check(z.describe('The `permissions.allow` array install created: removed again once empty')),
  original_sha256: z
    .optional(z.nullable(z.string()))
    .check(
      z.describe('sha256 of settings.json before install (null: no file), when it held none of our hooks: tells uninstall it restored it'),
    ),
});
export type SettingsRecord = z.infer<typeof SettingsRecord>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** settings.json is not what we can merge into (not JSON, not an object, hooks of the wrong shape). */
export class SettingsError extends CliError {
  constructor(message: string) {
    super(message, EXIT.failed, { code: 'settings_unmergeable' });
  }
}

type Json = Record<string, unknown>;

/** The hooks.json / settings `hooks` value that runs `command` on every HOOK_EVENTS event. */
export function hooksFor(command: string): Record<HookEvent, { hooks: { type: 'command'; command: string; timeout: number }[] }[]> {
  const group = () => ({ hooks: [{ type: 'command' as const, command, timeout: HOOK_TIMEOUT_S }] });
  return { SessionStart: [group()], UserPromptSubmit: [group()] };
}

/**
 * Adds our hook, and the `allow` rules, to `text` (the current settings.json, null if none). Returns the new
 * text, or null when nothing needs to change (then the file must be left byte for byte). `previous` is the
 * record of an earlier install into the same file: what it added stays ours, moved to `command` when it ran
 * another. An existing file is edited as text: our entries are inserted and every other byte stays.
 */
export function mergeSettings(
  text: string | null,
  command: string,
  previous?: SettingsRecord,
  allow: readonly string[] = [],
): { text: string | null; record: SettingsRecord } {
  const found = text;
  if (previous) ({ text, record: previous } = renameOurHooks(text, previous, command));
  const settings = parseSettings(text);
  const rules = allowOf(settings);
  const stillOurs = (e: HookEvent) =>
    Boolean(previous?.added.includes(e) && previous.command === command && runsCommand(settings, e, command));
  const record: SettingsRecord = {
    command,
    added: HOOK_EVENTS.filter(stillOurs),
    created_file: text === null || Boolean(previous?.created_file),
    created_hooks: Boolean(previous?.created_hooks && settings.hooks !== undefined),
    created_events: (previous?.created_events ?? []).filter((e) => hooksOf(settings)?.[e] !== undefined),
    allow_added: (previous?.allow_added ?? []).filter((r) => rules.includes(r)),
    created_permissions: Boolean(previous?.created_permissions && settings.permissions !== undefined),
    created_allow: Boolean(previous?.created_allow && isObject(settings.permissions) && settings.permissions.allow !== undefined),
  };
  const missing = HOOK_EVENTS.filter((e) => !runsCommand(settings, e, command));
  const missingRules = [...new Set(allow)].filter((r) => !rules.includes(r));
  // Nothing to add: the file stays as it is, and so does what an earlier install recorded about it.
  if (missing.length === 0 && missingRules.length === 0)
    return { text: text === found ? null : text, record: previous && previous.command === command ? previous : record };
  const hadOurs = HOOK_EVENTS.some((e) => runsCommand(settings, e, command)) || allow.some((r) => rules.includes(r));
  let out: string;
  if (text === null || text.trim() === '') {
    // Before a blank file's own whitespace, which uninstall can then give back.
    const fresh = missingRules.length ? { hooks: hooksFor(command), permissions: { allow: missingRules } } : { hooks: hooksFor(command) };
    out = `${JSON.stringify(fresh, null, 2)}${text ?? '\n'}`;
    record.created_hooks = true;
    record.created_events.push(...missing);
    record.created_permissions = record.created_allow = missingRules.length > 0;
  } else {
    out = text;
    const group = hooksFor(command).SessionStart[0]!;
    const indent = indentOf(text);
    for (const e of missing) {
      const root = parseSpans(out);
      const hooks = memberOf(root, 'hooks');
      const groups = memberOf(hooks?.value, e);
      if (!hooks) out = appendChild(out, root, { [e]: [group] }, indent, 'hooks');
      else if (!groups) out = appendChild(out, hooks.value, [group], indent, e);
      else out = appendChild(out, groups.value, group, indent);
      record.created_hooks ||= !hooks;
      if (!groups) record.created_events.push(e);
    }
    if (missingRules.length) {
      const root = parseSpans(out);
      const permissions = memberOf(root, 'permissions');
      const list = memberOf(permissions?.value, 'allow');
      if (!permissions) out = appendChild(out, root, { allow: missingRules }, indent, 'permissions');
      else if (!list) out = appendChild(out, permissions.value, missingRules, indent, 'allow');
      else
        for (const r of missingRules)
          out = appendChild(out, memberOf(memberOf(parseSpans(out), 'permissions')!.value, 'allow')!.value, r, indent);
      record.created_permissions ||= !permissions;
      record.created_allow ||= !list;
    }
  }
  record.added.push(...missing);
  record.added.sort();
  record.created_events = [...new Set(record.created_events)].sort();
  record.allow_added.push(...missingRules);
  // The original is a faithful "before" only when it held none of our entries.
  if (!hadOurs) record.original_sha256 = text === null ? null : sha256(text);
  return { text: out, record };
}

/**
 * Takes out of `text` what `record` says install added, as a text edit: every other byte stays, so a file
 * nothing else changed comes back byte for byte. Returns the new text, null to delete the file, or `text`
 * itself when there is nothing of ours in it.
 */
export function unmergeSettings(text: string | null, record: SettingsRecord): string | null {
  if (text === null) return null;
  parseSettings(text); // refuses what it cannot edit safely
  let out = text;
  for (let next = withoutOneHook(out, record); next !== null; next = withoutOneHook(out, record)) out = next;
  for (const rule of record.allow_added) out = withoutRule(out, rule);
  if (out === text) return text;
  // Then the containers install created, once empty: event arrays, the hooks object, permissions, the file.
  const emptyMember = (parent: JsonNode | undefined, key: string): number => {
    const m = memberOf(parent, key);
    return parent?.kind === 'object' && m && childCount(m.value) === 0 ? parent.members.indexOf(m) : -1;
  };
  const dropEmpty = (path: string[], key: string) => {
    const parent = path.reduce<JsonNode | undefined>((node, k) => memberOf(node, k)?.value, parseSpans(out));
    const at = emptyMember(parent, key);
    if (parent && at !== -1) out = removeChild(out, parent, at);
  };
  for (const e of record.created_events) dropEmpty(['hooks'], e);
  if (record.created_hooks) dropEmpty([], 'hooks');
  if (record.created_allow) dropEmpty(['permissions'], 'allow');
  if (record.created_permissions) dropEmpty([], 'permissions');
  const left = parseSpans(out);
  if (childCount(left) > 0) return out;
  if (record.created_file) return null;
  // An empty object where a blank file was: the blank file, when that is what install found.
  const blank = out.slice(0, left.start) + out.slice(left.end);
  return record.original_sha256 === sha256(blank) ? blank : out;
}

/** `text` without the last `rule` in permissions.allow (ours went last), or `text` when it has none. */
function withoutRule(text: string, rule: string): string {
  const list = memberOf(memberOf(parseSpans(text), 'permissions')?.value, 'allow')?.value;
  if (list?.kind !== 'array') return text;
  const at = list.items.map((item) => JSON.parse(text.slice(item.start, item.end)) as unknown).lastIndexOf(rule);
  return at === -1 ? text : removeChild(text, list, at);
}

/** `text` without one of our hooks (and its group, when it holds no other), or null when none is left. */
function withoutOneHook(text: string, record: SettingsRecord): string | null {
  const found = firstOurHook(text, record);
  if (!found) return null;
  const { groups, gi, inner, at } = found;
  return inner.items.length === 1 ? removeChild(text, groups, gi) : removeChild(text, inner, at);
}

/**
 * `text` and `record` with the hooks that an install by an older version added under another command
 * (`codex-spool claude hook`, before dist/codex-spool-hook) running `command` instead, each edited in place:
 * so installing again moves them, and what the record says install created stays true for uninstall.
 */
function renameOurHooks(text: string | null, record: SettingsRecord, command: string): { text: string | null; record: SettingsRecord } {
  if (text === null || record.command === command) return { text, record };
  parseSettings(text); // refuses what it cannot edit safely
  let out = text;
  for (let found = firstOurHook(out, record); found; found = firstOurHook(out, record)) {
    const value = memberOf(found.inner.items[found.at], 'command')!.value;
    out = out.slice(0, value.start) + JSON.stringify(command) + out.slice(value.end);
  }
  return { text: out, record: { ...record, command } };
}

/** A hook entry in settings: item `at` of `inner`, the hook list of group `gi` in an event's `groups`. */
interface HookPlace {
  groups: JsonNode;
  gi: number;
  inner: JsonNode & { kind: 'array' };
  at: number;
}

/** Where the first hook of `record.command` is, among the events `record` says install added it to. */
function firstOurHook(text: string, record: SettingsRecord): HookPlace | null {
  const hooks = memberOf(parseSpans(text), 'hooks')?.value;
  for (const e of record.added) {
    const groups = memberOf(hooks, e)?.value;
    if (groups?.kind !== 'array') continue;
    for (const [gi, g] of groups.items.entries()) {
      const inner = memberOf(g, 'hooks')?.value;
      if (inner?.kind !== 'array') continue;
      const at = inner.items.findIndex((h) => isOurHook(JSON.parse(text.slice(h.start, h.end)), record.command));
      if (at !== -1) return { groups, gi, inner, at };
    }
  }
  return null;
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
      if (groups !== undefined && !Array.isArray(groups))
        throw new SettingsError(`settings.json "hooks.${e}" is not an array; fix it first`);
    }
  }
  if (value.permissions !== undefined) {
    if (!isObject(value.permissions)) throw new SettingsError('settings.json "permissions" is not an object; fix it first');
    if (value.permissions.allow !== undefined && !Array.isArray(value.permissions.allow))
      throw new SettingsError('settings.json "permissions.allow" is not an array; fix it first');
  }
  return value;
}

/** The rules in permissions.allow ([] when there are none). */
function allowOf(settings: Json): unknown[] {
  return isObject(settings.permissions) && Array.isArray(settings.permissions.allow) ? settings.permissions.allow : [];
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

/** One level of the file's indentation ("" for a file on one line), as install lays out what it adds. */
function indentOf(text: string): string {
  const m = /\n([ \t]+)\S/.exec(text);
  return m ? m[1]! : text.trimEnd().includes('\n') ? '  ' : '';
}
