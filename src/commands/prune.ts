// `codex-spool prune`: remove finished jobs and their run directories past an age (dry run by default).
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { CliError, EXIT, layoutOf, withRoot } from '../cli-kit.js';
import { parseDuration, prunePlan } from '../prune-plan.js';
import type { JobState, SpoolLayout } from '../spool-layout.js';

export function pruneCommand(): Command {
  return withRoot(new Command('prune'))
    .description('remove finished jobs (done, failed, rejected) and run directories older than DURATION; dry run unless --yes')
    .requiredOption('--older-than <duration>', 'age such as 30d, 12h, 90m')
    .option('--yes', 'really delete')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: { olderThan: string; yes?: boolean; json?: boolean }, cmd: Command) => {
      const ageMs = parseDuration(opts.olderThan);
      if (ageMs === null) throw new CliError(`--older-than: "${opts.olderThan}" is not a duration like 30d, 12h, 90m`, EXIT.usage);
      const layout = layoutOf(cmd);
      const cutoffMs = Date.now() - ageMs;
      const finished = await filesIn(layout, ['done', 'failed', 'rejected']);
      const kept = finished.filter((f) => f.mtimeMs >= cutoffMs);
      const plan = prunePlan({
        cutoffMs,
        finished,
        runs: await readdir(layout.runs).catch(() => []),
        liveRuns: await runIdsOf((await filesIn(layout, ['inbox', 'deferred', 'active'])).map((f) => f.path)),
        keptRuns: await runIdsOf(kept.map((f) => f.path)),
      });
      if (opts.yes) {
        await Promise.all([...plan.jobs, ...plan.runs.map((r) => join(layout.runs, r))].map((p) => rm(p, { recursive: true, force: true })));
      }
      const verb = opts.yes ? 'removed' : 'would remove';
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ deleted: Boolean(opts.yes), jobs: plan.jobs, runs: plan.runs })}\n`
          : `${verb} ${plan.jobs.length} job files and ${plan.runs.length} run directories${opts.yes ? '' : ' (--yes to delete)'}\n`,
      );
    });
}

async function filesIn(layout: SpoolLayout, states: JobState[]) {
  const files = await Promise.all(
    states.map(async (state) => {
      const names = await readdir(layout.dir(state)).catch(() => []);
      return Promise.all(
        names
          .filter((n) => !n.endsWith('.tmp') && !n.endsWith('.lock'))
          .map(async (n) => {
            const path = join(layout.dir(state), n);
            const st = await stat(path).catch(() => null);
            return st?.isFile() ? { path, mtimeMs: st.mtimeMs } : null;
          }),
      );
    }),
  );
  return files.flat().filter((f) => f !== null);
}

/** The run ids that job files name (`run_id` while active, `result.run_id` once finished). */
async function runIdsOf(paths: string[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const path of paths) {
    try {
      const job = JSON.parse(await readFile(path, 'utf8')) as { run_id?: unknown; result?: { run_id?: unknown } };
      for (const id of [job.run_id, job.result?.run_id]) if (typeof id === 'string') ids.add(id);
    } catch {
      // not JSON (a rejected job's bytes): it names no run
    }
  }
  return ids;
}
