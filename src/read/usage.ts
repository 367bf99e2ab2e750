// Token usage of one run and of its whole session, and the runs of a job. Codex reports usage cumulatively
// per session, so a run's summary holds the session total as of that run; the run's own share is the
// difference from the previous run of the same session.
import { readdir } from 'node:fs/promises';
import { type RunSummary, SessionId, type Usage } from '../spool/schema.js';
import { lookupJob, runSummaryOf, type JobView } from '../spool/lookup.js';
import { isRunName, readMeta, readSummary, runFiles } from '../spool/run-files.js';
import type { SpoolLayout } from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';

export interface UsageReport {
  /** This run's own tokens; null when unknown (no usage reported, or no earlier total to subtract). */
  run: Usage | null;
  /** The session's total as of this run (the sum over the resume chain up to and including it). */
  session: Usage | null;
  /** new_session: run = session; previous_run: run = session − previous_run_id's total; unknown. */
  basis: 'new_session' | 'previous_run' | 'unknown';
  /** The earlier run of the session this run's share was measured from. */
  previous_run_id: string | null;
}

/** How many earlier run directories are searched for the previous run of a session resumed by its id. */
const MAX_RUNS_SCANNED = 1000;

/**
 * The usage of a finished run. The previous run of its session is, in this order: the job's own latest
 * earlier run of it with a usage (none, but the session began in the job: zero), the run of the job
 * named by the job's `resume` (a job id), else the latest earlier run under runs/ recorded with the same
 * session id and a usage (at most MAX_RUNS_SCANNED directories back).
 */
export async function usageReport(layout: SpoolLayout, job: JobView, summary: RunSummary): Promise<UsageReport> {
  const session = summary.usage;
  if (!session) return { run: null, session: null, basis: 'unknown', previous_run_id: null };
  if (summary.resumed_from === null) return { run: session, session, basis: 'new_session', previous_run_id: null };
  const previous = await previousRun(layout, job, summary);
  const run = previous?.usage ? usageDiff(session, previous.usage) : null;
  return run
    ? { run, session, basis: 'previous_run', previous_run_id: previous!.run_id }
    : { run: null, session, basis: 'unknown', previous_run_id: null };
}

/** a − b field by field; null if any field would be negative (then b is not an earlier total of a). */
function usageDiff(a: Usage, b: Usage): Usage | null {
  const d: Usage = {
    input_tokens: a.input_tokens - b.input_tokens,
    cached_input_tokens: a.cached_input_tokens - b.cached_input_tokens,
    output_tokens: a.output_tokens - b.output_tokens,
    reasoning_output_tokens: a.reasoning_output_tokens - b.reasoning_output_tokens,
  };
  return Object.values(d).every((n) => n >= 0) ? d : null;
}

const ZERO: Usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_output_tokens: 0 };

async function previousRun(layout: SpoolLayout, job: JobView, summary: RunSummary): Promise<RunSummary | null> {
  const ofSession = (s: RunSummary | null): s is RunSummary =>
    s !== null && s.run_id !== summary.run_id && s.session_id === summary.session_id && s.started_at < summary.started_at;
  const isEarlier = (s: RunSummary | null): s is RunSummary => ofSession(s) && s.usage !== null;
  // The job's own earlier runs (a retry, a takeover): the latest with a usage; else, when the session began
  // in one of them and none reported usage (a failed first turn), the whole session total is this run's.
  const own = (await jobRunSummaries(layout, job)).filter(ofSession);
  const latest = own.filter(isEarlier).at(-1);
  if (latest) return latest;
  const origin = own.find((s) => s.resumed_from === null);
  if (origin) return { ...origin, usage: ZERO };
  const resume = job.record?.resume;
  if (resume !== undefined && !SessionId.safeParse(resume).success) {
    const target = await lookupJob(layout, resume, ['done', 'failed']);
    const s = target && (await runSummaryOf(layout, target));
    if (isEarlier(s)) return s;
  }
  return scanRuns(layout, summary, isEarlier);
}

/** Run ids sort by their start second (`YYYYMMDD-HHMMSS-…`): scan back from this run's second. */
async function scanRuns(layout: SpoolLayout, summary: RunSummary, isEarlier: (s: RunSummary | null) => s is RunSummary) {
  const stamp = (runId: string) => runId.slice(0, 15);
  const names = (await readdir(layout.runs).catch(ifMissing([])))
    .filter((n) => n !== summary.run_id && stamp(n) <= stamp(summary.run_id))
    .sort()
    .reverse()
    .slice(0, MAX_RUNS_SCANNED);
  let best: RunSummary | null = null;
  for (const name of names) {
    if (best && stamp(name) < stamp(best.run_id)) break; // runs of the same second may come in any order
    const files = runFiles(layout.runs, name);
    const meta = await readMeta(files);
    if (meta?.session_id !== summary.session_id) continue;
    const s = await readSummary(files);
    if (isEarlier(s) && (!best || s.started_at > best.started_at)) best = s;
  }
  return best;
}

/** The job's run ids, oldest first, as its file lists them (`runs`), else the one run it names. */
function jobRunIds(job: JobView): string[] {
  const runs = job.record?.runs;
  if (runs?.every(isRunName)) return runs;
  return job.runId ? [job.runId] : [];
}

/** The summaries of a job's runs that have one, oldest first. */
async function jobRunSummaries(layout: SpoolLayout, job: JobView): Promise<RunSummary[]> {
  const all = await Promise.all(jobRunIds(job).map((id) => readSummary(runFiles(layout.runs, id))));
  return all.filter((s) => s !== null);
}

/** One run of a job as `result` lists it: how it ended, how long it took, its own tokens. */
export interface RunLine {
  run_id: string;
  /** `running`: the job's current run; `no_summary`: an earlier run cut off before it wrote one. */
  status: RunSummary['status'] | 'running' | 'no_summary';
  elapsed_seconds: number | null;
  tokens: Usage | null;
}

/** Every run of a job, oldest first. */
export async function runLines(layout: SpoolLayout, job: JobView): Promise<RunLine[]> {
  const summaries = new Map((await jobRunSummaries(layout, job)).map((s) => [s.run_id, s]));
  const lines: RunLine[] = [];
  for (const run_id of jobRunIds(job)) {
    const s = summaries.get(run_id);
    const status = job.state === 'active' && run_id === job.runId ? 'running' : 'no_summary';
    lines.push(
      s
        ? { run_id, status: s.status, elapsed_seconds: s.elapsed_seconds, tokens: (await usageReport(layout, job, s)).run }
        : { run_id, status, elapsed_seconds: null, tokens: null },
    );
  }
  return lines;
}

/** Tokens summed over some runs. */
export interface LedgerRow {
  key: string;
  runs: number;
  usage: Usage;
}

/** Tokens per job, per session and per UTC day. */
interface Ledger {
  total: LedgerRow;
  days: LedgerRow[];
  sessions: LedgerRow[];
  jobs: LedgerRow[];
}

/**
 * Where the tokens went, from run summaries (pure). Each run counts its own share: its session's total
 * minus that of the session's previous run with a usage (a session begun outside this spool counts its
 * earlier turns in its first run here). Runs that reported no usage count nothing.
 */
export function usageLedger(summaries: readonly RunSummary[]): Ledger {
  const byTime = [...summaries].sort((a, b) => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : 0));
  const lastTotal = new Map<string, Usage>();
  const groups = { total: new Map<string, LedgerRow>(), days: new Map(), sessions: new Map(), jobs: new Map() };
  const add = (group: Map<string, LedgerRow>, key: string, u: Usage) => {
    const row = group.get(key) ?? { key, runs: 0, usage: { ...ZERO } };
    row.runs += 1;
    for (const k of Object.keys(ZERO) as (keyof Usage)[]) row.usage[k] += u[k];
    group.set(key, row);
  };
  for (const s of byTime) {
    if (!s.usage) continue;
    const previous = s.session_id ? lastTotal.get(s.session_id) : undefined;
    const own = (previous && usageDiff(s.usage, previous)) ?? s.usage;
    if (s.session_id) lastTotal.set(s.session_id, s.usage);
    add(groups.total, 'total', own);
    add(groups.days, s.started_at.slice(0, 10), own);
    add(groups.sessions, s.session_id ?? '-', own);
    add(groups.jobs, s.job_id, own);
  }
  const rows = (g: Map<string, LedgerRow>) => [...g.values()].sort((a, b) => tokensOf(b.usage) - tokensOf(a.usage));
  return {
    total: groups.total.get('total') ?? { key: 'total', runs: 0, usage: { ...ZERO } },
    days: [...groups.days.values()].sort((a, b) => (a.key < b.key ? 1 : -1)),
    sessions: rows(groups.sessions),
    jobs: rows(groups.jobs),
  };
}

/** Input plus output tokens: what a row is ranked by. */
const tokensOf = (u: Usage) => u.input_tokens + u.output_tokens;

/** Every run summary under runs/ that parses. */
export async function allRunSummaries(layout: SpoolLayout): Promise<RunSummary[]> {
  const all: RunSummary[] = [];
  for (const name of await readdir(layout.runs).catch(ifMissing([]))) {
    const s = await readSummary(runFiles(layout.runs, name)); // one at a time: runs/ may hold thousands
    if (s) all.push(s);
  }
  return all;
}

/** Token usage in one short phrase: `in 2002 (cached 200), out 102 (reasoning 14)`. */
export function formatUsage(u: Usage): string {
  return `in ${u.input_tokens} (cached ${u.cached_input_tokens}), out ${u.output_tokens} (reasoning ${u.reasoning_output_tokens})`;
}
