// A Codex `--json` event line → one short display line (or nothing), for `logs`. Pure.
// The event shapes are those src/codex/events.ts folds: thread.started, turn.completed / turn.failed,
// error, item.started / item.completed with agent_message, command_execution, file_change, error items;
// plus the other item kinds Codex emits (mcp_tool_call, web_search, todo_list, reasoning: not shown).
import { PROGRESS, RECONNECT, usageOf } from '../codex/events.js';
import { formatUsage } from './usage.js';
import { oneLine, shortPath } from '../util/display.js';
import { isObject, str, type JsonObject } from '../util/json-value.js';

interface RenderOptions {
  /** File paths inside this directory are shown relative to it. */
  repo?: string | null;
  /** Longest display line; longer text is cut with `…`. Default 160. */
  width?: number;
}

type Json = JsonObject;

/** Parses an events.jsonl line into an event object, or null if it is not one. */
function parseEvent(line: string): Json | null {
  if (!line.startsWith('{')) return null;
  try {
    const event: unknown = JSON.parse(line);
    return isObject(event) && typeof event.type === 'string' ? event : null;
  } catch {
    return null;
  }
}

/** The display line of an error message (also used for errors known only from the run's summary). */
export function errorLine(message: string, width = 160): string {
  return oneLine(`error: ${message}`, width);
}

/** One event line → one display line, or null for events not worth a line (turn.started, reasoning, …). */
export function renderEvent(line: string, opts: RenderOptions = {}): string | null {
  const event = parseEvent(line);
  if (!event) return null;
  const width = opts.width ?? 160;
  switch (event.type) {
    case 'thread.started':
      return oneLine(`session ${str(event.thread_id) ?? '?'}`, width);
    case 'turn.completed':
      return isObject(event.usage)
        ? oneLine(`turn completed; session tokens ${formatUsage(usageOf(event.usage))}`, width)
        : 'turn completed';
    case 'turn.failed':
      return oneLine(`turn failed: ${str(isObject(event.error) ? event.error.message : null) ?? '?'}`, width);
    case 'error':
      return errorLine(str(event.message) ?? '?', width);
    case 'item.started':
    case 'item.completed':
      return isObject(event.item) ? renderItem(event.item, event.type === 'item.completed', opts.repo ?? null, width) : null;
    default:
      return null; // turn.started, item.updated, and whatever a later Codex adds
  }
}

/**
 * A whole events.jsonl → display lines. A command or tool call shows once, with its result, when the file
 * holds its completion; one still running (or cut off by an interruption) shows as started.
 */
export function renderLog(lines: readonly string[], opts: RenderOptions = {}): string[] {
  const completed = new Set<string>();
  for (const line of lines) {
    const e = parseEvent(line);
    if (e?.type === 'item.completed' && isObject(e.item) && typeof e.item.id === 'string') completed.add(e.item.id);
  }
  const out: string[] = [];
  for (const line of lines) {
    const e = parseEvent(line);
    if (e?.type === 'item.started' && isObject(e.item) && typeof e.item.id === 'string' && completed.has(e.item.id)) continue;
    const shown = renderEvent(line, opts);
    if (shown !== null) out.push(shown);
  }
  return out;
}

function renderItem(item: Json, done: boolean, repo: string | null, width: number): string | null {
  switch (item.type) {
    case 'agent_message':
      return done ? oneLine(`agent: ${str(item.text) ?? ''}`, width) : null;
    case 'command_execution': {
      const command = displayCommand(str(item.command) ?? '?');
      if (!done) return oneLine(`$ ${command}`, width);
      const code = typeof item.exit_code === 'number' ? `exit ${item.exit_code}` : oneLine(str(item.status) ?? 'no exit code', 40);
      const suffix = ` → ${code}`;
      return `${oneLine(`$ ${command}`, width - suffix.length)}${suffix}`;
    }
    case 'file_change': {
      if (!done) return null;
      const changes = (Array.isArray(item.changes) ? item.changes : []).filter(isObject);
      const list = changes.map((c) => `${str(c.kind) ?? 'change'} ${shortPath(str(c.path) ?? '?', repo)}`).join(', ');
      return oneLine(`files${item.status === 'failed' ? ' (failed)' : ''}: ${list || '-'}`, width);
    }
    case 'mcp_tool_call': {
      const name = `${str(item.server) ?? '?'}.${str(item.tool) ?? '?'}`;
      return oneLine(done ? `tool ${name} → ${str(item.status) ?? 'done'}` : `tool ${name}`, width);
    }
    case 'web_search':
      return done ? oneLine(`search: ${str(item.query) ?? ''}`, width) : null;
    case 'todo_list': {
      if (!done || !Array.isArray(item.items)) return null;
      const todos = item.items.filter(isObject);
      return `plan: ${todos.filter((t) => t.completed === true).length}/${todos.length} done`;
    }
    case 'error':
      return done ? oneLine(`warning: ${str(item.message) ?? '?'}`, width) : null; // Codex goes on after these
    default:
      return null; // reasoning, and item kinds this version does not know
  }
}

/**
 * What a running Codex is doing now, from its latest events (the tail of events.jsonl), in one line of at
 * most `width` characters: waiting for the network (or retrying the model), the command or tool it runs,
 * else its last message, else waiting for the model. Null before its first event.
 */
export function currentActivity(lines: readonly string[], width = 80): string | null {
  const running = new Map<string, string>();
  let reconnecting: string | null = null;
  let said: string | null = null;
  let seen = false;
  for (const line of lines) {
    const e = parseEvent(line);
    if (!e) continue;
    seen = true;
    const type = String(e.type);
    if (PROGRESS.test(type)) reconnecting = null;
    if (type === 'error' && RECONNECT.test(str(e.message) ?? '')) reconnecting = str(e.message);
    const item = isObject(e.item) ? e.item : null;
    if (!item) continue;
    const id = str(item.id) ?? '';
    if (type === 'item.started') {
      if (item.type === 'command_execution') running.set(id, `$ ${displayCommand(str(item.command) ?? '?')}`);
      else if (item.type === 'mcp_tool_call') running.set(id, `tool ${str(item.server) ?? '?'}.${str(item.tool) ?? '?'}`);
    } else if (type === 'item.completed') {
      running.delete(id);
      if (item.type === 'agent_message') said = str(item.text) ?? said;
    }
  }
  if (!seen) return null;
  const current = [...running.values()].at(-1);
  const activity = reconnecting
    ? /waiting for network/i.test(reconnecting)
      ? 'waiting for network'
      : reconnecting
    : (current ?? (said === null ? 'waiting for the model' : `agent: ${said}`));
  return oneLine(activity, width);
}

/** `/bin/bash -lc "…"` (how Codex runs every command) → the script inside it. */
export function displayCommand(command: string): string {
  const m = /^(?:\/usr)?\/bin\/(?:ba|z)?sh -l?c (["'])([\s\S]*)\1$/.exec(command);
  if (!m) return command;
  return m[1] === "'" ? m[2]!.replace(/'\\''/g, "'") : m[2]!.replace(/\\([\\"$`])/g, '$1');
}
