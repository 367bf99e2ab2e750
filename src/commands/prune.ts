// `codex-spool prune`: remove finished jobs and their run directories past an age (dry run by default),
// keeping what live jobs need, and cancel requests left behind.
import { output } from '../util/output.js';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { MAX_CANCEL_BYTES, requestedRun, withdrawCancelRequest } from '../spool/cancel-request.js';
import { duration, layoutOf, withRoot } from '../cli/kit.js';
import { fitList } from '../util/display.js';
import { DURATION_FORMS } from '../util/duration.js';
import { pruneWorktrees, type WorktreePrune } from '../codex/worktree.js';
import { JOB_ID_SOURCE, MAX_JOB_BYTES, StoredJob } from '../spool/schema.js';
import { readSmallFile } from '../spool/atomic-file.js';
import { rebuildFinishedLog } from '../spool/finished-log.js';
import { prunePlan, type CancelRequestFile, type FinishedFile, type LiveJob, type PrunePlan } from '../read/prune-plan.js';
import { safeJson } from '../util/safe-text.js';
import {
  FINISHED_STATES,
  LIVE_STATES,
  cancelRequestIdOf,
  isJobFileName,
  isRejectionName,
  jobIdOf,
  type JobState,
  type SpoolLayout,
  shownName,
} from '../spool/layout.js';
import { ifMissing } from '../util/errors.js';
import { readJson } from '../spool/json-file.js';

const HELP = `
Keeps a finished job that a queued or running job resumes (by its id, or the latest job of the session it
resumes), and the runs and worktrees of every job kept. Also removes
cancel requests (spool/active/<id>.cancel) whose run is no longer active, whatever their age. The
worktree and branch of a removed job go too, unless they hold uncommitted changes or unmerged commits
(then kept and named, see \`worktree list\`) and no --force. With --yes it also rewrites
spool/finished.log, the cache status orders finished jobs by, from the files that stay.
--json: {"deleted":bool,"jobs":[path],"runs":[name],"cancel_requests":[path],"kept_for_resume":[id]}, and
when a removed job had a worktree, "worktrees":[id],"kept_worktrees":[{id,why}]`;

/** How many files the human report names, one a line, before "… N more". */
const LIST_LINES = 50;
/** How many characters of worktree names a line of the human report lists before "+N more". */
const LIST_BUDGET = 400;

export function pruneCommand(): Command {
  return withRoot(new Command('prune'))
    .description('remove finished jobs (done, failed, rejected) and run directories older than DURATION; dry run unless --yes')
    .requiredOption(
      '--older-than <duration>',
      `age, with a unit: ${DURATION_FORMS}`,
      duration('--older-than', null, Number.MAX_SAFE_INTEGER, '', true),
    )
    .option('--yes', 'really delete')
    .option('--force', 'also remove worktrees with uncommitted changes or unmerged commits')
    .option('--json', 'print the plan as JSON')
    .addHelpText('after', HELP)
    .action(async (opts: { olderThan: number; yes?: boolean; force?: boolean; json?: boolean }, cmd: Command) => {
      const layout = layoutOf(cmd);
      const cutoffMs = Date.now() - opts.olderThan;
      // Live jobs are listed before finished ones: a job that ends in between is then seen in one of the
      // two listings (a run named by neither would go).
      const live = await readLive(layout);
      const requests = await readCancelRequests(layout);
      const finished = await readFinished(layout);
      const runs = await readdir(layout.runs).catch(ifMissing([]));
      const input = { cutoffMs, finished, runs, live, cancelRequests: requests.files };
      let plan = prunePlan(input);
      if (opts.yes) {
        // Looked at again just before deleting: a follow-up queued or a job claimed since the first look.
        plan = await remove(layout, prunePlan({ ...input, live: [...live, ...(await readLive(layout))] }), requests.texts);
      }
      const gone = new Set(plan.jobs.map((f) => f.id));
      const repos = new Map(finished.map((f) => [f.id, f.worktreeRepo]));
      const ids = plan.worktreeIds.filter((id) => gone.has(id)).map((id) => ({ id, repo: repos.get(id) ?? null }));
      const trees = await pruneWorktrees(layout, ids, Boolean(opts.yes), Boolean(opts.force));
      output.out(
        opts.json
          ? `${safeJson({ ...jsonReport(plan, Boolean(opts.yes)), ...worktreeJson(trees) })}\n`
          : humanReport(plan, Boolean(opts.yes)) + worktreeReport(trees),
      );
    });
}

function jsonReport(plan: PrunePlan, deleted: boolean) {
  return {
    deleted,
    jobs: plan.jobs.map((f) => f.path),
    runs: plan.runs,
    cancel_requests: plan.cancelRequests.map((c) => c.path),
    kept_for_resume: plan.keptForResume,
  };
}

/** The counts, then each file (relative to the root) one a line, at most LIST_LINES of them. */
function humanReport(plan: PrunePlan, deleted: boolean): string {
  const { jobs, runs, cancelRequests, keptForResume } = plan;
  const verb = deleted ? 'removed' : 'would remove';
  const counts = `${jobs.length} job files, ${runs.length} run directories, ${cancelRequests.length} cancel requests`;
  const items = [
    ...jobs.map((f) => `spool/${f.state}/${shownName(f.name)}`),
    ...runs.map((r) => `runs/${shownName(r)}`),
    ...cancelRequests.map((c) => `spool/active/${shownName(c.id)}.cancel`),
    ...keptForResume.map((id) => `kept ${shownName(id)}: resumed by a live job`),
  ];
  const shown = items.slice(0, LIST_LINES);
  if (items.length > shown.length) shown.push(`… ${items.length - shown.length} more (--json lists all)`);
  return `${[`${verb} ${counts}${deleted ? '' : ' (--yes to delete)'}`, ...shown].join('\n')}\n`;
}

/** The worktree keys of the JSON report, only when a removed job had a worktree. */
const worktreeJson = ({ removed, kept }: WorktreePrune) =>
  removed.length || kept.length ? { worktrees: removed, kept_worktrees: kept } : {};

function worktreeReport({ removed, kept }: WorktreePrune): string {
  const lines = removed.length ? [`worktrees and branches: ${fitList(removed.map(shownName), LIST_BUDGET)}`] : [];
  const why = kept.map((k) => `${shownName(k.id)} (${k.why})`);
  if (kept.length) lines.push(`kept worktrees (--force to remove): ${fitList(why, LIST_BUDGET)}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** Deletes what the plan names, each only if it is still what was planned on; returns what went. */
async function remove(layout: SpoolLayout, plan: PrunePlan, requestTexts: Map<string, string>): Promise<PrunePlan> {
  const jobs: FinishedFile[] = [];
  for (const f of plan.jobs) {
    // A file with another mtime was replaced since it was listed (e.g. the id was run again).
    if ((await lstat(f.path).catch(ifMissing(null)))?.mtimeMs !== f.mtimeMs) continue;
    await rm(f.path, { force: true, recursive: true }); // a directory too: whatever holds the job's name (a link is not followed)
    jobs.push(f);
  }
  for (const r of plan.runs) await rm(join(layout.runs, r), { recursive: true, force: true });
  const cancelRequests: CancelRequestFile[] = [];
  for (const c of plan.cancelRequests) if (await withdrawCancelRequest(layout, c.id, requestTexts.get(c.path)!)) cancelRequests.push(c);
  await rebuildFinishedLog(layout); // without the lines of the files that went, and with every file that stays
  return { ...plan, jobs, cancelRequests };
}

interface Listed {
  state: JobState;
  name: string;
  path: string;
  mtimeMs: number;
  /** Bytes of a regular file; null for anything else (never opened). */
  size: number | null;
}

/**
 * The entries of state directories but for files being written (temp and lock files). A directory is listed
 * too: one with a job's name is that job (the worker moves one planted in the inbox to rejected/ whole).
 */
async function list(layout: SpoolLayout, states: readonly JobState[]): Promise<Listed[]> {
  const out: Listed[] = [];
  for (const state of states) {
    for (const name of await readdir(layout.dir(state)).catch(ifMissing([]))) {
      if (name.endsWith('.tmp') || name.endsWith('.lock')) continue;
      const path = join(layout.dir(state), name);
      const st = await lstat(path).catch(ifMissing(null));
      if (st) out.push({ state, name, path, mtimeMs: st.mtimeMs, size: st.isFile() ? st.size : null });
    }
  }
  return out;
}

/** A job file as read back, or null (not a regular file, too big, not a JSON object). */
function readRecord(f: Listed): Promise<StoredJob | null> {
  return f.size === null ? Promise.resolve(null) : readJson(f.path, StoredJob);
}

/** The `"resume": "<id>"` of a job file that is not (yet) whole JSON, if its text already has one. */
async function partialResume(path: string): Promise<string | null> {
  const text = (await readSmallFile(path, MAX_JOB_BYTES)) ?? '';
  return PARTIAL_RESUME.exec(text)?.[1] ?? null;
}
const PARTIAL_RESUME = new RegExp(`"resume"\\s*:\\s*"(${JOB_ID_SOURCE})"`);

async function readLive(layout: SpoolLayout): Promise<LiveJob[]> {
  const jobs: LiveJob[] = [];
  for (const f of await list(layout, LIVE_STATES)) {
    if (!isJobFileName(f.name)) continue;
    const record = await readRecord(f);
    // A file still being written does not parse yet: what it will resume is read from its text as it is.
    const resume = record ? (record.resume ?? null) : await partialResume(f.path);
    jobs.push({ id: jobIdOf(f.name), state: f.state, runId: record?.run_id ?? null, earlierRuns: record?.runs ?? [], resume });
  }
  return jobs;
}

async function readFinished(layout: SpoolLayout): Promise<FinishedFile[]> {
  const files: FinishedFile[] = [];
  for (const f of await list(layout, FINISHED_STATES)) {
    const isJob = isJobFileName(f.name) && !(f.state === 'rejected' && isRejectionName(f.name));
    const record = await readRecord(f);
    const result = record?.result;
    // runs: every run of a retried job.
    const runIds = [record?.run_id, result?.run_id, ...(record?.runs ?? [])].filter((r) => typeof r === 'string');
    const sessionId = result?.session_id?.toLowerCase() ?? null;
    const worktree = result?.worktree?.path ?? null;
    files.push({
      path: f.path,
      state: f.state,
      name: f.name,
      id: isJob ? jobIdOf(f.name) : null,
      mtimeMs: f.mtimeMs,
      runIds,
      sessionId,
      worktree,
      worktreeRepo: record?.worktree ? (record.repo ?? null) : null,
    });
  }
  return files;
}

/** active/*.cancel, with the text of each (a request is removed only if it still holds that text). */
async function readCancelRequests(layout: SpoolLayout): Promise<{ files: CancelRequestFile[]; texts: Map<string, string> }> {
  const files: CancelRequestFile[] = [];
  const texts = new Map<string, string>();
  for (const f of await list(layout, ['active'])) {
    const id = cancelRequestIdOf(f.name);
    if (id === null || f.size === null || f.size > MAX_CANCEL_BYTES) continue;
    const text = await readSmallFile(f.path, MAX_CANCEL_BYTES);
    if (text === null) continue;
    texts.set(f.path, text);
    files.push({ path: f.path, id, requested: requestedRun(text) });
  }
  return { files, texts };
}
