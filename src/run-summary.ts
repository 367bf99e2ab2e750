// Deciding how a run ended and what its summary says. Pure.
import type { CodexRunOutcome } from './codex-runner.js';
import type { RunMeta, RunFiles, RunStatus, RunSummary } from './job-schema.js';

/** succeeded only on exit 0 with no failed turn; cancelled or timed_out when we stopped it for that. */
export function runStatusOf(
  outcome: Pick<CodexRunOutcome, 'exitCode' | 'timedOut' | 'digest'> & { cancelled?: boolean },
): RunStatus {
  if (outcome.cancelled) return 'cancelled';
  if (outcome.timedOut) return 'timed_out';
  return outcome.exitCode === 0 && !outcome.digest.turnFailed ? 'succeeded' : 'failed';
}

export interface SummaryInput {
  meta: RunMeta;
  outcome: CodexRunOutcome;
  files: RunFiles;
  /** Contents of `-o` (preferred: exactly what Codex called its last message). */
  lastMessage: string | null;
  endedAt: Date;
}

export function buildSummary({ meta, outcome, files, lastMessage, endedAt }: SummaryInput): RunSummary {
  const { digest } = outcome;
  const errors = [
    ...(outcome.spawnError ? [outcome.spawnError] : []),
    ...(outcome.cancelled ? ['cancelled by the user'] : []),
    ...(outcome.timedOut ? [outcome.stalled ? 'stopped: no Codex event within the stall limit' : 'stopped: the time limit was reached'] : []),
    ...digest.errors,
  ];
  const commands = digest.commands;
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
    final_message: lastMessage ?? digest.lastAgentMessage,
    usage: digest.usage,
    commands: {
      count: commands.length,
      failed: commands.filter((c) => c.exit_code !== 0).length,
      items: commands,
    },
    files_changed: { count: digest.filesChanged.length, paths: digest.filesChanged },
    errors,
    files,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
