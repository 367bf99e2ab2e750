// What `result` reports about one job, and its human form: at most ~800 bytes plus the final message.
// Everything in the human form that comes from a job file or Codex is shown escaped (safeLine, safeText).
import { basename } from 'node:path';
import { recordedWorktree, shownName } from '../spool/layout.js';
import { fitList, formatDuration, oneLine, oneLineBytes, shellWord, shortPath } from '../util/display.js';
import { factsOf, type JobFacts } from './facts.js';
import { resultLine } from './format.js';
import { runSummaryOf, type JobView } from '../spool/lookup.js';
import type { RunFiles } from '../spool/schema.js';
import { runFiles } from '../spool/run-files.js';
import { safeLine, safeText } from '../util/safe-text.js';
import type { SpoolLayout } from '../spool/layout.js';
import { runLines, usageReport, type RunLine, type UsageReport, formatUsage } from './usage.js';

/** A job's facts plus, once it has run, what its run's summary adds. */
export interface ResultReport extends JobFacts {
  /** Tokens of this run and of its session (see read/usage.ts); null without a summary. */
  usage: UsageReport | null;
  files_changed: { count: number; paths: string[] } | null;
  /** The command that continues the session by hand (in the job's repo: `exec resume` works in the cwd). */
  resume_command: string | null;
  /** The run's files (runs/<run-id>/…). */
  run_files: RunFiles | null;
  /** Rejected: the job file as submitted and the error file beside it. */
  rejected_files: { job: string; error: string } | null;
  /** The worktree the job ran in (its own, or the one of the job it follows up). */
  worktree: { path: string; branch: string } | null;
  /** Every run of the job, oldest first (retries, recoveries, transient failures). */
  runs: RunLine[];
}

/** Largest human report, final message aside. */
export const RESULT_BYTES = 800;

/** The report of a found job: its facts, plus its summary's usage and files for a finished run. */
export async function resultReport(layout: SpoolLayout, job: JobView): Promise<ResultReport> {
  const facts = await factsOf(layout, job);
  const summary = job.state === 'done' || job.state === 'failed' ? await runSummaryOf(layout, job) : null;
  const runId = facts.run_id ?? job.runId;
  // This spool's worktree of the job id the result names, not the path as written: the continue line cds there.
  const recorded = job.result?.worktree?.path;
  const worktree = recorded === undefined ? null : recordedWorktree(layout, recorded);
  const workdir = worktree?.path ?? facts.repo;
  return {
    ...facts,
    usage: summary ? await usageReport(layout, job, summary) : null,
    files_changed: summary ? summary.files_changed : null,
    resume_command: facts.session_id && (job.state === 'done' || job.state === 'failed') ? resumeCommand(facts.session_id, workdir) : null,
    worktree,
    runs: await runLines(layout, job),
    run_files: summary?.files ?? (runId ? runFiles(layout.runs, runId) : null),
    rejected_files: job.state === 'rejected' ? { job: job.path, error: layout.rejection(job.id) } : null,
  };
}

/** The human report. Pending jobs get their one state line; the final message comes last, whole. */
export function formatResult(r: ResultReport): string {
  if (r.status === null) return `${resultLine(r)}\n`;
  if (r.status === 'rejected') {
    const files = r.rejected_files ? `\nfiles: ${safeLine(`${r.rejected_files.job} ${basename(r.rejected_files.error)}`)}` : '';
    return `${oneLine(`${r.id} rejected (${r.reason ?? '?'}): ${r.error ?? ''}`, 400)}${files}\n`;
  }
  const first = `${shownName(r.id)} ${r.status} exit=${r.exit_code ?? '-'} ${formatDuration(r.elapsed_seconds)}`;
  // The session id is in the continue line's command; a line of its own only says that there is none.
  const session = r.resume_command ? [] : [safeLine(`session ${r.session_id ?? '-'}`)];
  const middle = [...session, ...usageLines(r.usage), ...runsLines(r.runs)];
  if (r.worktree) middle.push(safeLine(`worktree branch ${r.worktree.branch}`)); // its path: the continue line's cd
  const tail: string[] = [];
  if (r.resume_command) tail.push(safeLine(`continue: ${r.resume_command}`));
  // Its files are always the same five (result --help names them): the directory is enough.
  if (r.run_files) tail.push(safeLine(`run: ${r.run_files.dir}/`));
  const message = r.final_message === null ? ['final message: -'] : ['final message:', safeText(r.final_message.replace(/\n$/, ''))];
  // The error and the changed files share what the fixed lines leave of RESULT_BYTES.
  const changed = r.files_changed;
  const filesLabel = `files changed (${changed?.count ?? 0})`;
  let left = RESULT_BYTES - bytes([first, ...middle, filesLabel, ...tail, message[0]!]);
  const errorLines: string[] = [];
  if (r.status !== 'succeeded' && r.error) {
    errorLines.push(oneLineBytes(`error: ${r.error}`, Math.max(40, Math.min(200, left - 80))));
    left -= bytes(errorLines);
  }
  const paths = (changed?.paths ?? []).map((p) => safeLine(shortPath(p, r.repo)));
  const listBudget = Math.min(400, left - 2) - 2;
  let filesLine = paths.length && listBudget >= 24 ? `${filesLabel}: ${fitList(paths, listBudget)}` : filesLabel;
  if (bytes([first, ...errorLines, ...middle, filesLine, ...tail, message[0]!]) > RESULT_BYTES) filesLine = filesLabel; // multi-byte paths
  return `${[first, ...errorLines, ...middle, filesLine, ...tail, ...message].join('\n')}\n`;
}

/** Bytes of lines, each with its newline. */
const bytes = (lines: string[]) => lines.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);

/** `cd <repo> && codex exec resume <session>`, each word quoted for a POSIX shell when it needs it. */
export function resumeCommand(sessionId: string, repo: string | null): string {
  // Both come from a job file: a word the shell could split or run (`x; rm …`) is quoted.
  const resume = `codex exec resume ${shellWord(sessionId)}`;
  return repo ? `cd ${shellWord(repo)} && ${resume}` : resume;
}

function usageLines(u: UsageReport | null): string[] {
  if (!u?.session) return ['tokens: none reported'];
  if (u.basis === 'new_session') return [`tokens (new session): ${formatUsage(u.session)}`];
  const run = u.run ? formatUsage(u.run) : 'unknown (no earlier run of this session found)';
  return [`tokens this run: ${run}`, `tokens session total: ${formatUsage(u.session)}`];
}

/** Runs listed at most (the latest): the report stays within RESULT_BYTES whatever the retries. */
const MAX_RUN_LINES = 3;

/** One line per run, only when the job had more than one: `run 1/2 failed 3s tokens 1200/40` (in/out). */
function runsLines(runs: RunLine[]): string[] {
  if (runs.length < 2) return [];
  return runs
    .map((run, i) => {
      const tokens = run.tokens ? `tokens ${run.tokens.input_tokens}/${run.tokens.output_tokens}` : 'tokens -';
      return `run ${i + 1}/${runs.length} ${run.status} ${formatDuration(run.elapsed_seconds)} ${tokens}`;
    })
    .slice(-MAX_RUN_LINES);
}
