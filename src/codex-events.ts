// Reading what Codex prints: `--json` JSONL events on stdout, and the human banner on stderr.
// Pure: no I/O. The runner feeds lines in as they arrive; the digest is what the summary is built from.
import type { Usage } from './job-schema.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const SESSION_LINE = new RegExp(`^session id: (${UUID})\\s*$`, 'i');

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

export interface CommandRun {
  command: string;
  exit_code: number | null;
}

/** What a run's events add up to. */
export interface EventDigest {
  sessionId: string | null;
  lastAgentMessage: string | null;
  usage: Usage | null;
  commands: CommandRun[];
  filesChanged: string[];
  /** Fatal errors (`error` events, `turn.failed`); warning items are not errors. */
  errors: string[];
  turnFailed: boolean;
}

export function emptyDigest(): EventDigest {
  return {
    sessionId: null,
    lastAgentMessage: null,
    usage: null,
    commands: [],
    filesChanged: [],
    errors: [],
    turnFailed: false,
  };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

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
    case 'error':
      addError(digest, str(event.message) ?? 'error');
      break;
    case 'item.completed':
      if (isObject(event.item)) foldItem(digest, event.item);
      break;
  }
  return digest;
}

/** Codex often reports one failure twice (`error`, then `turn.failed`): keep each text once. */
export function addError(digest: EventDigest, message: string): void {
  if (!digest.errors.includes(message)) digest.errors.push(message);
}

function usageOf(u: Json): Usage {
  return {
    input_tokens: num(u.input_tokens),
    cached_input_tokens: num(u.cached_input_tokens),
    output_tokens: num(u.output_tokens),
    reasoning_output_tokens: num(u.reasoning_output_tokens),
  };
}

function foldItem(digest: EventDigest, item: Json): void {
  switch (item.type) {
    case 'agent_message':
      digest.lastAgentMessage = str(item.text) ?? digest.lastAgentMessage;
      break;
    case 'command_execution':
      digest.commands.push({
        command: str(item.command) ?? '',
        exit_code: typeof item.exit_code === 'number' ? item.exit_code : null,
      });
      break;
    case 'file_change':
      for (const change of Array.isArray(item.changes) ? item.changes : []) {
        const path = isObject(change) ? str(change.path) : null;
        if (path !== null && !digest.filesChanged.includes(path)) digest.filesChanged.push(path);
      }
      break;
  }
}
