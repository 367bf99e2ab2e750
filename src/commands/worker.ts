// `codex-spool worker`: the long-running process that runs the spool's jobs.
import { tmpdir } from 'node:os';
import { readdir } from 'node:fs/promises';
import { Command } from 'commander';
import { duration, layoutOf, loadPolicyOrFail, positiveInt, withRoot } from '../cli/kit.js';
import { CliError } from '../util/errors.js';
import { DURATION_FORMS } from '../util/duration.js';
import { codexVersion } from '../codex/runner.js';
import { codexDoctor, codexVerdicts } from '../doctor/codex.js';
import { onDoneSettled, stopOnDone } from '../worker/on-done.js';
import { MAX_TIMER_MS } from '../util/timer-bounds.js';
import { Worker } from '../worker/worker.js';
import { isJobFileName, isWithin, unsafeSpoolDirs } from '../spool/layout.js';
import { safeLine } from '../util/safe-text.js';

// Every duration becomes a Node timer, which fires at once past 2^31-1 ms: bound each so it cannot.
const WHY = ' (a timer holds at most 2^31-1 ms)';
// A bare number counts in the unit the option's name says; `10m`, `4h` and the like are read as written.
const ms = (name: string) => duration(name, 'ms', MAX_TIMER_MS, WHY);
const seconds = (name: string) => (value: string) => duration(name, 's', Math.floor(MAX_TIMER_MS / 1000) * 1000, WHY)(value) / 1000;

interface WorkerCommandOptions {
  concurrency: number;
  codexBin?: string;
  once?: boolean;
  poll?: number | true;
  graceMs: number;
  settleMs: number;
  rejectAfterMs: number;
  rescanMs: number;
  defaultTimeout: number;
  stallTimeout: number;
  retryDelayMs: number;
  onDone?: string;
  allowSharedSpool?: boolean;
  skipCodexCheck?: boolean;
}

export function workerCommand(): Command {
  return withRoot(new Command('worker'), 'optional')
    .description('watch spool/inbox and run each job with Codex until stopped (SIGTERM/SIGINT)')
    .option('-c, --concurrency <n>', 'jobs run at once', positiveInt('--concurrency'), 2)
    .option('--codex-bin <path>', 'Codex binary (default: $CODEX_SPOOL_CODEX_BIN or codex on PATH)')
    .option('--once', 'run what the inbox holds, wait for it, then exit (cron, CI): exit 1 if a job failed or was rejected')
    .option('--poll [ms]', 'poll the file system instead of inotify (network file systems)', ms('--poll'))
    .option('--grace-ms <ms>', 'time given to each stop signal (SIGINT, SIGTERM) before the next', ms('--grace-ms'), 10_000)
    .option(
      '--settle-ms <ms>',
      'an inbox file that parses but is no whole JSON text (a number) is claimed once unchanged this long',
      ms('--settle-ms'),
      50,
    )
    .option('--reject-after-ms <ms>', 'an inbox file still not JSON after this long is rejected', ms('--reject-after-ms'), 5_000)
    .option('--default-timeout <seconds>', 'wall-clock limit of a job that sets no timeout_s', seconds('--default-timeout'), 4 * 3600)
    .option(
      '--stall-timeout <seconds>',
      'stop a run after this long without progress (a thread, turn or item event)',
      seconds('--stall-timeout'),
      600,
    )
    .option(
      '--retry-delay-ms <ms>',
      'first backoff before a transient Codex failure is retried (doubles each time)',
      ms('--retry-delay-ms'),
      30_000,
    )
    .option(
      '--on-done <command>',
      'shell command run after each job ends, with CODEX_SPOOL_JOB_ID, _STATE, _STATUS, _SESSION_ID, _SUMMARY, _JOB_FILE set',
    )
    .option('--skip-codex-check', 'start without asking `codex doctor` whether Codex can authenticate and load its config')
    .option('--allow-shared-spool', 'run even if other users could write into the spool (deliberate shared setups)')
    .option('--rescan-ms <ms>', 'rescan the inbox and recover orphaned jobs this often', ms('--rescan-ms'), 2_000)
    .addHelpText(
      'after',
      `\nDurations: a bare number counts in the option's unit (seconds, or ms for --*-ms and --poll); or ${DURATION_FORMS}.`,
    )
    .action(
      logFlushed(async (opts: WorkerCommandOptions, cmd: Command) => {
        const layout = layoutOf(cmd);
        const codexBin = opts.codexBin ?? process.env.CODEX_SPOOL_CODEX_BIN ?? 'codex';
        // Both ask Codex about itself and neither needs the other: asked at once, start-up waits for one launch of Codex, not two.
        const [version, report] = await Promise.all([codexVersion(codexBin), opts.skipCodexCheck ? null : codexDoctor(codexBin)]);
        if (version === null) {
          throw new CliError(`cannot run "${codexBin} --version": install Codex or pass --codex-bin / set CODEX_SPOOL_CODEX_BIN`);
        }
        // One line per event, whatever a job, a file name or Codex put into it.
        const log = (line: string) => process.stderr.write(`${safeLine(line)}\n`);
        // A log no one can read any more (its terminal hung up) is dropped: its write error, unhandled, came back
        // through uncaughtException, which logs: a loop at full CPU that kept the worker's locks alive for ever.
        process.stderr.on('error', () => undefined);
        if (report) {
          // A worker whose every run would fail at once (no login) refuses to start rather than fail each job.
          const verdicts = codexVerdicts(report);
          const said = (status: string) => verdicts.filter((v) => v.status === status).map((v) => `${v.name}: ${v.summary}`);
          for (const warning of said('warn')) log(`worker: warning: ${warning}`);
          if (said('fail').length) throw new CliError(`Codex cannot run jobs: ${said('fail').join('; ')} (fix it, or --skip-codex-check)`);
        }
        // The root is checked before anything in it is read: whoever can write it could swap the spool or the policy.
        const unsafe = opts.allowSharedSpool ? [] : await unsafeSpoolDirs(layout);
        if (unsafe.length)
          throw new CliError(`refusing an unsafe spool: ${unsafe.join('; ')} (fix the permissions, or --allow-shared-spool)`);
        // One job's fault must not end the runs of all the others.
        process.on('unhandledRejection', (err) => log(`worker: unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));
        process.on('uncaughtException', (err) => log(`worker: uncaught exception: ${err.stack ?? err.message}`));
        const worker = new Worker({
          layout,
          codexBin,
          codexVersion: version,
          concurrency: opts.concurrency,
          settleMs: opts.settleMs,
          rejectAfterMs: opts.rejectAfterMs,
          rescanMs: opts.rescanMs,
          graceMs: opts.graceMs,
          defaultTimeoutMs: opts.defaultTimeout * 1000,
          stallMs: opts.stallTimeout * 1000,
          retryBaseMs: opts.retryDelayMs,
          policy: await loadPolicyOrFail(layout.root),
          onDone: opts.onDone ?? null,
          once: Boolean(opts.once),
          allowSharedSpool: Boolean(opts.allowSharedSpool),
          pollMs: opts.poll === undefined ? null : opts.poll === true ? 1_000 : opts.poll,
          log,
        });
        const stopped = new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            log(`worker: ${signal}, stopping`);
            void worker.stop().then(resolve);
          };
          // `on`, not `once`: proper-lockfile's signal-exit re-sends a signal to the process when it finds
          // itself the only listener left, which a `once` listener, removed as it fires, would let happen.
          // SIGHUP: the terminal it ran in closed; dying of it would leave Codex (in a group of its own) running.
          process.on('SIGTERM', stop).on('SIGINT', stop).on('SIGHUP', stop);
        });
        log(`worker: ${layout.root} concurrency ${opts.concurrency}, ${version}`);
        // Codex's workspace-write sandbox lets commands write in /tmp and $TMPDIR: a root there is within reach of jobs.
        const tmp = ['/tmp', tmpdir()].find((dir) => isWithin(layout.root, dir));
        if (tmp) log(`worker: warning: the root is under ${tmp}, which sandboxed Codex commands may write to`);
        await worker.start();
        // --on-done commands run beside the jobs: --once lets them finish (each within its timeout); a
        // stopped worker ends them, so that nothing it started outlives it.
        if (opts.once) await onDoneSettled();
        else await stopped.then(stopOnDone);
        if (opts.once) endOnce(worker, await readdir(layout.dir('active')).then((names) => names.filter(isJobFileName).length), log);
      }),
    );
}

/**
 * `action` with every log line handed to the OS when it ends, as it returns or throws: the log goes
 * through process.stderr, asynchronous to a full pipe, and the process exits right after (src/cli.ts).
 */
function logFlushed<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } finally {
      await new Promise((resolve) => process.stderr.write('', resolve));
    }
  };
}

/**
 * How a --once run ends (cron reads its exit code): 1 if a job it ran failed or was rejected, or one could
 * not be handled. Work it could not take is no failure, but named on stderr for the next run: deferred jobs
 * not due yet, and the `othersActive` jobs left in active/ (another worker's, or a dead worker's whose lock
 * has not gone stale yet: a later run recovers them).
 */
function endOnce(worker: Worker, othersActive: number, log: (line: string) => void): void {
  const later = worker.deferredNotDue();
  if (later.count)
    log(`worker: ${later.count} deferred job(s) not due yet (the first at ${new Date(later.nextAt).toISOString()}): left for a later run`);
  if (othersActive)
    log(
      `worker: ${othersActive} job(s) in active/ held by another worker, or by a dead one until its lock goes stale: left for a later run`,
    );
  const problems = [
    worker.unsuccessful ? `${worker.unsuccessful} job(s) failed or were rejected` : '',
    worker.troubles ? `${worker.troubles} job(s) could not be handled (see the log above; left for the next run)` : '',
  ].filter(Boolean);
  if (problems.length) throw new CliError(problems.join('; '));
}
