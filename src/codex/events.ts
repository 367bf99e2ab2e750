// Reading what Codex prints: `--json` JSONL events on stdout, and the human banner on stderr.
// Pure: no I/O. The runner feeds lines in as they arrive; the digest is what the summary is built from.
// Codex's output is untrusted and unbounded: every text and list the digest keeps is bounded.
import { UUID_SOURCE, type Usage } from '../spool/schema.js';
import { capText } from '../util/text-cap.js';
import { isObject, num, str, type JsonObject } from '../util/json-value.js';

/** Longest error text kept; the whole text stays in the run's files. */
export const MAX_ERROR_BYTES = 4 * 1024;
/** Errors kept: the first ones and the latest (the decisive one, see codex/summary.ts). */
export const MAX_ERRORS = 20;
/** Lines of Codex's stderr kept (its last ones), for a failure it reported nowhere else. */
const MAX_STDERR_LINES = 20;
/** Longest command or path kept, and how many of each are listed (all are counted). */
const MAX_ITEM_BYTES = 1024;
export const MAX_LISTED = 500;
const WHOLE = "the run's events.jsonl or codex.log";

/**
 * Codex retrying its connection (`Reconnecting... waiting for network (…)`, `Reconnecting... 2/5 (…)`):
 * printed as `error` events, but neither progress nor (yet) a failure.
 */
export const RECONNECT = /^Reconnecting\.\.\./i;
/** Event types that show the run moving on: only these count against the stall limit. */
export const PROGRESS = /^(thread|turn|item)\./;

const SESSION_LINE = new RegExp(`^session id: (${UUID_SOURCE})\\s*$`, 'i');

/** The session id from a human-mode banner line (`session id: <uuid>`), else null. */
export function sessionIdFromBannerLine(line: string): string | null {
  return SESSION_LINE.exec(line)?.[1] ?? null;
}

/**
 * An error Codex printed on stderr: fatal errors that happen before any JSON event (an unknown
 * resume id, a missing --cd directory, an untrusted directory) appear only there.
 */
export function errorFromLogLine(line: string): string | null {
  if (line.startsWith('Error: ')) return line.slice('Error: '.length).trim();
  return /^Not inside a trusted directory/.test(line) ? line.trim() : null;
}

/** Stderr lines Codex prints on every run, which never say why a run failed. */
const STDERR_NOISE = /^(WARNING: |Reading additional input from stdin)/;

/**
 * Folds one stderr line into the digest: the banner's session id, an `Error:` line, and the last few
 * other lines (a config error or `No prompt provided via stdin.` appears only there, unprefixed).
 */
export function foldLogLine(digest: EventDigest, line: string): EventDigest {
  digest.sessionId ??= sessionIdFromBannerLine(line);
  const error = errorFromLogLine(line);
  if (error) addError(digest, error);
  if (!line.trim() || STDERR_NOISE.test(line)) return digest;
  if (digest.stderrTail.length >= MAX_STDERR_LINES) digest.stderrTail.shift();
  digest.stderrTail.push(capText(line.trimEnd(), MAX_ITEM_BYTES, WHOLE));
  return digest;
}

interface CommandRun {
  command: string;
  exit_code: number | null;
}

/** What a run's events add up to. */
export interface EventDigest {
  sessionId: string | null;
  lastAgentMessage: string | null;
  usage: Usage | null;
  /** The first MAX_LISTED commands; the counts cover all of them. */
  commands: CommandRun[];
  commandCount: number;
  commandsFailed: number;
  /** The first MAX_LISTED paths changed, each once. */
  filesChanged: string[];
  /** Fatal errors (`error` events, `turn.failed`, stderr `Error:` lines) in the order last seen; warning items and reconnect notices are not errors. */
  errors: string[];
  /** The last stderr lines that are not Codex's routine notices. */
  stderrTail: string[];
  turnFailed: boolean;
  /** Progress events seen (thread.*, turn.*, item.*): the runner's stall timer watches this. */
  progress: number;
  /** The last reconnect notice since the last progress event: Codex is waiting for the network. */
  reconnecting: string | null;
}

export function emptyDigest(): EventDigest {
  return {
    sessionId: null,
    lastAgentMessage: null,
    usage: null,
    commands: [],
    commandCount: 0,
    commandsFailed: 0,
    filesChanged: [],
    errors: [],
    stderrTail: [],
    turnFailed: false,
    progress: 0,
    reconnecting: null,
  };
}

/** Folds one stdout line into the digest (mutates and returns it). Lines that are not JSON events are ignored. */
export function foldEventLine(digest: EventDigest, line: string): EventDigest {
  if (!line.startsWith('{')) return digest;
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return digest;
  }
  if (!isObject(event)) return digest;
  if (typeof event.type === 'string' && PROGRESS.test(event.type)) {
    digest.progress++;
    digest.reconnecting = null;
  }
  switch (event.type) {
    case 'thread.started':
      digest.sessionId = str(event.thread_id) ?? digest.sessionId;
      break;
    case 'turn.completed':
      if (isObject(event.usage)) digest.usage = usageOf(event.usage);
      break;
    case 'turn.failed':
      digest.turnFailed = true;
      addError(digest, str(isObject(event.error) ? event.error.message : null) ?? 'turn failed');
      break;
    case 'error': {
      const message = str(event.message) ?? 'error';
      if (RECONNECT.test(message)) digest.reconnecting = capText(message, MAX_ERROR_BYTES, WHOLE);
      else addError(digest, message);
      break;
    }
    case 'item.completed':
      if (isObject(event.item)) foldItem(digest, event.item);
      break;
  }
  return digest;
}

/**
 * Codex often reports one failure twice (`error`, then `turn.failed`): each text is kept once, where it was
 * last seen, so the last error is always the latest one; when the list is full the first ones stay.
 */
export function addError(digest: EventDigest, message: string): void {
  const text = capText(message, MAX_ERROR_BYTES, WHOLE);
  const seen = digest.errors.indexOf(text);
  if (seen >= 0) digest.errors.splice(seen, 1);
  else if (digest.errors.length >= MAX_ERRORS) digest.errors.pop();
  digest.errors.push(text);
}

function foldItem(digest: EventDigest, item: JsonObject): void {
  switch (item.type) {
    case 'agent_message':
      digest.lastAgentMessage = str(item.text) ?? digest.lastAgentMessage;
      break;
    case 'command_execution': {
      const exitCode = typeof item.exit_code === 'number' ? item.exit_code : null;
      digest.commandCount++;
      if (exitCode !== 0) digest.commandsFailed++;
      if (digest.commands.length < MAX_LISTED) {
        digest.commands.push({ command: capText(str(item.command) ?? '', MAX_ITEM_BYTES, WHOLE), exit_code: exitCode });
      }
      break;
    }
    case 'file_change':
      for (const change of Array.isArray(item.changes) ? item.changes : []) {
        const path = isObject(change) ? str(change.path) : null;
        if (path === null || digest.filesChanged.length >= MAX_LISTED) continue;
        const kept = capText(path, MAX_ITEM_BYTES, WHOLE);
        if (!digest.filesChanged.includes(kept)) digest.filesChanged.push(kept);
      }
      break;
  }
}

/** Token usage from Codex's `turn.completed` `usage` object: a count that is missing or not a number is 0. */
export function usageOf(u: JsonObject): Usage {
  return {
    input_tokens: num(u.input_tokens) ?? 0,
    cached_input_tokens: num(u.cached_input_tokens) ?? 0,
    output_tokens: num(u.output_tokens) ?? 0,
    reasoning_output_tokens: num(u.reasoning_output_tokens) ?? 0,
  };
}
