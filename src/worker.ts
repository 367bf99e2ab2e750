// The worker loop: watch the inbox, claim what is ready, run up to `concurrency` jobs, recover orphans.
// Watch events only ring the doorbell; a rescan of the inbox (on each event and on a timer) is the truth.
import type { Stats } from 'node:fs';
import { access, lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import chokidar, { type FSWatcher } from 'chokidar';
import { SessionId } from './job-schema.js';
import { inboxReadiness } from './inbox-readiness.js';
import type { JobPolicy } from './job-policy.js';
import { recoverOrphans } from './recovery.js';
import { runClaimedJob, type RunJobContext } from './run-job.js';
import { claimJob, findJob, releaseDueJobs, requeueJob } from './spool-moves.js';
import { isLocked, repoLockName, tryLock } from './claim-lock.js';
import { JOB_STATES, ensureSpool, isJobFileName, jobIdOf, unsafeSpoolDirs, type SpoolLayout } from './spool-layout.js';
import { removeWriteDebris } from './atomic-file.js';

export interface WorkerOptions {
  layout: SpoolLayout;
  codexBin: string;
  codexVersion: string | null;
  concurrency: number;
  /** A complete (parsable) inbox file is claimed once it has been unchanged this long. */
  settleMs: number;
  /** An inbox file that still does not parse after this long is claimed and rejected. */
  rejectAfterMs: number;
  /** How often the inbox is rescanned and orphans recovered without any watch event. */
  rescanMs: number;
  graceMs: number;
  defaultTimeoutMs: number;
  stallMs: number;
  retryBaseMs: number;
  policy: JobPolicy;
  onDone: string | null;
  /** Exit once the inbox holds nothing claimable and nothing runs (cron, CI). */
  once: boolean;
  /** Poll the file system instead of inotify (network file systems). */
  pollMs: number | null;
  /** Run on a spool others can write to (a deliberate shared setup). */
  allowSharedSpool: boolean;
  log(line: string): void;
}

/** What the scan learns of an inbox file without claiming it. */
interface Peek {
  name: string;
  /** inode, size and mtime when peeked: the file is read again only when this changes. */
  stamp: string;
  mtimeMs: number;
  complete: boolean;
  /** The repo whose working tree the job uses; null for worktree jobs, which have their own. */
  repo: string | null;
  resume: string | null;
  priority: number;
}

/** A spool temp file untouched this long is debris: no write takes an hour between write and rename. */
const DEBRIS_AGE_MS = 3_600_000;

export class Worker {
  private readonly running = new Map<string, { repo: string | null; cancel: AbortController }>();
  private readonly shutdown = new AbortController();
  private readonly ctx: RunJobContext;
  private watcher: FSWatcher | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  private stopped: Promise<void> | null = null;
  private idle: (() => void)[] = [];
  /** The last scan saw a file still settling. */
  private settling = false;
  /**
   * Peeks of the inbox by file name. Reading every queued file on every scan made a 1,000-job queue
   * cost O(n²); a complete file is now read once and checked again (lstat) only when it is launched.
   * Cleared on every tick, so what a scan trusts is at most `rescanMs` old.
   */
  private readonly peeks = new Map<string, Peek>();

  constructor(private readonly opts: WorkerOptions) {
    this.ctx = { ...opts, shutdown: this.shutdown.signal };
  }

  /** Starts watching; resolves once the first scan has run. With `once`, resolves when all is done. */
  async start(): Promise<void> {
    await ensureSpool(this.opts.layout);
    const unsafe = this.opts.allowSharedSpool ? [] : await unsafeSpoolDirs(this.opts.layout);
    if (unsafe.length) {
      throw new Error(`refusing an unsafe spool: ${unsafe.join('; ')} (fix the permissions, or --allow-shared-spool)`);
    }
    await this.removeDebris();
    await this.recover();
    await releaseDueJobs(this.opts.layout, new Date());
    if (this.opts.once) return this.runOnce();
    const inbox = this.opts.layout.dir('inbox');
    // Only the inbox directory is watched, and any event of it rings the doorbell. Watching each job
    // file too (chokidar's way) cost a watcher and stats per queued file: with 1,000 queued, more than
    // the jobs themselves, and with --poll a stat of every file every interval.
    this.watcher = chokidar.watch(inbox, {
      depth: 0,
      ignoreInitial: true, // the rescan below sees what is already there
      ignored: (path) => path !== inbox,
      usePolling: this.opts.pollMs !== null,
      interval: this.opts.pollMs ?? undefined,
    });
    this.watcher.on('raw', () => void this.ring());
    this.watcher.on('error', (err) => this.opts.log(`watch error: ${(err as Error).message}`));
    this.ticker = setInterval(() => void this.tick(), this.opts.rescanMs);
    await this.ring();
  }

  /** Stops claiming, stops running Codex processes (each left in active/ for recovery), closes the watcher. Idempotent. */
  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      if (this.ticker) clearInterval(this.ticker);
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      await this.watcher?.close();
      this.shutdown.abort();
      await this.scanning;
      await this.whenIdle();
    })());
  }

  /** Rings the doorbell: scan now, or right after the scan under way. */
  private ring(): Promise<void> {
    if (this.shutdown.signal.aborted) return Promise.resolve();
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    return (this.scanning = (async () => {
      do {
        this.rescan = false;
        await this.scan().catch((err: Error) => this.opts.log(`scan error: ${err.message}`));
      } while (this.rescan && !this.shutdown.signal.aborted);
      this.scanning = null;
    })());
  }

  /** The periodic pass: cancel requests, orphans, deferred jobs now due, then the inbox. */
  private async tick(): Promise<void> {
    await this.honourCancelRequests();
    await this.recover();
    await releaseDueJobs(this.opts.layout, new Date()).catch((err: Error) => this.opts.log(`deferred: ${err.message}`));
    this.peeks.clear();
    await this.ring();
  }

  /** Cancels running jobs whose cancel request file exists (written by `codex-spool cancel`). */
  private async honourCancelRequests(): Promise<void> {
    for (const [name, job] of this.running) {
      if (job.cancel.signal.aborted) continue;
      const requested = await access(this.opts.layout.cancelRequest(jobIdOf(name))).then(() => true, () => false);
      if (requested) job.cancel.abort();
    }
  }

  /** Temp files of spool writes killed half-way (a SIGKILLed worker or submit), once surely abandoned. */
  private async removeDebris(): Promise<void> {
    for (const state of JOB_STATES) {
      const removed = await removeWriteDebris(this.opts.layout.dir(state), DEBRIS_AGE_MS);
      if (removed.length) this.opts.log(`removed ${removed.length} abandoned temp file(s) from ${state}/`);
    }
  }

  private async recover(): Promise<void> {
    await recoverOrphans({ ...this.opts }).catch((err: Error) => this.opts.log(`recovery error: ${err.message}`));
  }

  /** One pass over the inbox in submission order. */
  private async scan(): Promise<void> {
    const inbox = this.opts.layout.dir('inbox');
    const names = new Set((await readdir(inbox)).filter((n) => isJobFileName(n) && !this.running.has(n)));
    for (const name of this.peeks.keys()) if (!names.has(name)) this.peeks.delete(name);
    const peeks = await Promise.all(
      [...names].map((n) => {
        const known = this.peeks.get(n);
        return known?.complete ? known : this.peek(join(inbox, n), n);
      }),
    );
    const queue = peeks.filter((p) => p !== null);
    queue.sort((a, b) => b.priority - a.priority || a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
    // A repo whose earlier job runs or waits blocks its later jobs: one Codex per working tree, in order.
    const blockedRepos = new Set([...this.running.values()].map((r) => r.repo));
    let wakeMs = Infinity;
    for (const known of queue) {
      if (this.running.size >= this.opts.concurrency) break;
      if (known.repo !== null && blockedRepos.has(known.repo)) continue; // its repo is taken: no I/O needed
      // The file may have been claimed elsewhere or rewritten since it was peeked.
      const p = known.complete ? await this.peek(join(inbox, known.name), known.name) : known;
      if (p === null) continue;
      if (p.stamp !== known.stamp) this.rescan = true; // order by what the file holds now
      const ready = inboxReadiness({
        complete: p.complete,
        ageMs: Date.now() - p.mtimeMs,
        settleMs: this.opts.settleMs,
        rejectAfterMs: this.opts.rejectAfterMs,
      });
      const blocked = p.repo !== null && (blockedRepos.has(p.repo) || (await this.repoBusyElsewhere(p.repo)));
      if (p.repo !== null) blockedRepos.add(p.repo);
      if (ready.kind === 'later') wakeMs = Math.min(wakeMs, ready.afterMs);
      if (ready.kind === 'later' || blocked || (await this.waitsOnEarlierJob(p))) continue;
      this.launch(p);
    }
    if (wakeMs !== Infinity && !this.shutdown.signal.aborted) {
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      this.wakeTimer = setTimeout(() => void this.ring(), wakeMs);
    }
    this.settling = wakeMs !== Infinity;
  }

  /** The file's peek: the one made before if it has not changed since, else a new one (remembered). */
  private async peek(path: string, name: string): Promise<Peek | null> {
    const st = await lstat(path).catch(() => null);
    if (!st) {
      this.peeks.delete(name); // claimed by another worker meanwhile
      return null;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const known = this.peeks.get(name);
    if (known?.stamp === stamp) return known;
    const p = await this.read(path, { name, stamp, mtimeMs: st.mtimeMs, repo: null, resume: null, priority: 0 }, st);
    if (p) this.peeks.set(name, p);
    else this.peeks.delete(name);
    return p;
  }

  private async read(path: string, base: Omit<Peek, 'complete'>, st: Stats): Promise<Peek | null> {
    // Not a regular file, or too large: complete as it is; the claim rejects it without reading it.
    if (!st.isFile() || st.size > this.opts.policy.max_job_bytes) return { ...base, complete: true };
    try {
      const json: unknown = JSON.parse(await readFile(path, 'utf8'));
      const job = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
      return {
        ...base,
        complete: true,
        repo: typeof job.repo === 'string' && job.worktree !== true ? job.repo : null,
        resume: typeof job.resume === 'string' ? job.resume : null,
        priority: typeof job.priority === 'number' ? job.priority : 0,
      };
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : { ...base, complete: false };
    }
  }

  /** Another worker runs a job in this repo (its repo lock is held). */
  private repoBusyElsewhere(repo: string): Promise<boolean> {
    return isLocked(this.activeDir, repoLockName(repo));
  }

  private get activeDir(): string {
    return this.opts.layout.dir('active');
  }

  /** A resume of an earlier job of this spool waits until that job has ended. */
  private async waitsOnEarlierJob(p: Peek): Promise<boolean> {
    if (p.resume === null || p.resume === jobIdOf(p.name) || SessionId.safeParse(p.resume).success) return false;
    return (await findJob(this.opts.layout, p.resume, ['inbox', 'active'])) !== null;
  }

  private launch(p: Peek): void {
    if (this.running.has(p.name)) return;
    const cancel = new AbortController();
    this.running.set(p.name, { repo: p.repo, cancel });
    void (async () => {
      const claim = await claimJob(this.opts.layout, p.name, 'inbox', this.opts.policy.max_job_bytes);
      if (!claim) return;
      // One Codex per working tree across all workers: another worker may have taken the repo meanwhile.
      const releaseRepo = p.repo === null ? async () => {} : await tryLock(this.activeDir, repoLockName(p.repo), (err) =>
              this.opts.log(`repo lock of ${p.repo} lost: ${err.message}`),
            );
      if (!releaseRepo) return requeueJob(this.opts.layout, claim);
      try {
        await runClaimedJob(this.ctx, claim, cancel.signal);
      } finally {
        await claim.release(); // no-op unless the job ended in an error: then recovery takes it
        await releaseRepo();
      }
    })()
      .catch((err: Error) => this.opts.log(`error ${p.name}: ${err.message}`))
      .finally(() => {
        this.running.delete(p.name);
        if (this.running.size === 0) this.idle.splice(0).forEach((resolve) => resolve());
        void this.ring();
      });
  }

  private whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** --once: claim and run until nothing is claimable, waiting to settle, or running. */
  private async runOnce(): Promise<void> {
    while (!this.shutdown.signal.aborted) {
      await this.ring();
      if (this.running.size === 0 && !this.settling) break;
      await sleep(50);
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.whenIdle();
  }
}
