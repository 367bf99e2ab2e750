// Deciding how a run ended and what its summary says. Pure.
import type { CodexRunOutcome } from './runner.js';
import { MAX_FINAL_MESSAGE_BYTES, type RunMeta, type RunFiles, type RunStatus, type RunSummary } from '../spool/schema.js';
import { MAX_LISTED } from './events.js';
import { capText } from '../util/text-cap.js';

/**
 * succeeded only on exit 0 with no failed turn; cancelled or timed_out when we stopped it for that —
 * except a stall while Codex only waited for the network: that is a failure of the network (transient).
 */
export function runStatusOf(
  outcome: Pick<CodexRunOutcome, 'exitCode' | 'timedOut' | 'digest'> & { cancelled?: boolean; waitingForNetwork?: string | null },
): RunStatus {
  if (outcome.cancelled) return 'cancelled';
  if (outcome.waitingForNetwork) return 'failed';
  if (outcome.timedOut) return 'timed_out';
  return outcome.exitCode === 0 && !outcome.digest.turnFailed ? 'succeeded' : 'failed';
}

/** Why we stopped the run, if we did for a time limit. */
function limitError({ timedOut, stalled, waitingForNetwork }: CodexRunOutcome): string[] {
  if (!timedOut) return [];
  if (waitingForNetwork) {
    return [`stopped: no progress within the stall limit while Codex was waiting for the network (last: ${waitingForNetwork})`];
  }
  return [stalled ? 'stopped: no progress from Codex within the stall limit' : 'stopped: the time limit was reached'];
}

/**
 * A failure Codex reported on neither its JSON stream nor an `Error:` line: what else it printed on
 * stderr (a config error, `No prompt provided via stdin.`), else its exit code or signal.
 */
function unreportedFailure({ exitCode, signal, digest, timedOut, stopped, cancelled, spawnError }: CodexRunOutcome): string[] {
  if (exitCode === 0 || digest.errors.length || timedOut || stopped || cancelled || spawnError) return [];
  if (digest.stderrTail.length) return [digest.stderrTail.join('\n')];
  return [signal ? `Codex was killed by ${signal}` : `Codex exited with code ${exitCode ?? '?'} without reporting an error`];
}

interface SummaryInput {
  meta: RunMeta;
  outcome: CodexRunOutcome;
  files: RunFiles;
  /** Contents of `-o` (preferred: exactly what Codex called its last message); may be only its head. */
  lastMessage: string | null;
  /** The paths git saw change during the run (see codex/git-changes.ts); else those of Codex's apply_patch events. */
  filesChanged?: string[] | null;
  endedAt: Date;
}

export function buildSummary({ meta, outcome, files, lastMessage, filesChanged, endedAt }: SummaryInput): RunSummary {
  const { digest } = outcome;
  // In the order they happened: Codex's own errors, then why we stopped it (if we did), so the last is decisive.
  const errors = [
    ...digest.errors,
    ...unreportedFailure(outcome),
    ...limitError(outcome),
    ...(outcome.cancelled ? ['cancelled by the user'] : []),
    ...(outcome.spawnError ? [outcome.spawnError] : []),
  ];
  const finalMessage = lastMessage ?? digest.lastAgentMessage;
  return {
    run_id: meta.run_id,
    job_id: meta.job_id,
    session_id: digest.sessionId ?? meta.session_id,
    resumed_from: meta.resumed_from,
    repo: meta.repo,
    task: meta.task,
    status: runStatusOf(outcome),
    exit_code: outcome.exitCode,
    signal: outcome.signal,
    started_at: meta.started_at,
    ended_at: endedAt.toISOString(),
    elapsed_seconds: round2((endedAt.getTime() - Date.parse(meta.started_at)) / 1000),
    final_message: finalMessage === null ? null : capText(finalMessage, MAX_FINAL_MESSAGE_BYTES, files.last_message),
    usage: digest.usage,
    commands: { count: digest.commandCount, failed: digest.commandsFailed, items: digest.commands },
    files_changed: filesChanged
      ? { count: filesChanged.length, paths: filesChanged.slice(0, MAX_LISTED) }
      : { count: digest.filesChanged.length, paths: digest.filesChanged },
    errors,
    files,
  };
}

/** What to do about an error that a person can fix (authentication, a missing key), appended to it. */
const HINTS: [RegExp, string][] = [
  [
    /status 40[13]\b|unauthori[sz]ed|\bforbidden\b|not logged in|(invalid|incorrect) api key/i,
    "hint: run `codex login`, or check the API key variable of Codex's model provider (its env_key)",
  ],
  [/missing environment variable/i, "hint: set that variable in the worker's environment"],
];

/**
 * The error that decided how a run ended: the last one (Codex's latest fatal error, or why we stopped it;
 * transient notices are never errors), with a hint when the user can fix it. Null for a run with none.
 */
export function decisiveError(errors: readonly string[]): string | null {
  const last = errors.at(-1);
  if (last === undefined) return null;
  const hint = HINTS.find(([pattern]) => pattern.test(last))?.[1];
  return hint ? `${last} (${hint})` : last;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
