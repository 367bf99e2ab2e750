// The worker loop: watch the inbox, claim what is ready, run up to `concurrency` jobs, recover orphans.
// A watch event names the inbox file to look at; the inbox is listed in full on a timer (the truth) and on an
// event without a usable name. The queue is kept between scans, so a claim costs no work per queued file.
import type { Stats } from 'node:fs';
import { access, lstat, readdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FSWatcher } from 'chokidar';
import { PartialQueuedJob, SessionId, StoredJob } from '../spool/schema.js';
import { inboxReadiness, isWholeJson } from './inbox-readiness.js';
import { jobReadLimit, type JobPolicy } from '../spool/policy.js';
import { parseJsonOrNull } from '../util/json-text.js';
import { ifMissing, isMissing } from '../util/errors.js';
import { readJson } from '../spool/json-file.js';
import { recoverOrphans } from './recovery.js';
import { runClaimedJob, type RunHooks, type RunJobContext } from './run-job.js';
import { cancelRequested } from '../spool/cancel-request.js';
import { claimDuplicate, claimJob, finishJob, rejectUndecodableNames, takeOverJob } from '../spool/moves.js';
import { recordWithoutRun } from './finished-job.js';
import { isLocked, preloadLockfile, removeAbandonedLocks, resourceLockName } from '../spool/lock.js';
import { JOB_STATES, ensureSpool, isJobFileName, jobIdOf, unsafeSpoolDirs, type JobState, type SpoolLayout } from '../spool/layout.js';
import { readSmallFile, removeWriteDebris } from '../spool/atomic-file.js';
import { startHeartbeat, type Heartbeat } from './heartbeat.js';

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

/** What the scan learns of a queued file (inbox or deferred) without claiming it. */
interface Peek {
  name: string;
  state: 'inbox' | 'deferred';
  /** inode, size and mtime when peeked: the file is read again only when this changes. */
  stamp: string;
  mtimeMs: number;
  complete: boolean;
  /** It parsed as a whole JSON text: nothing to wait for (see inboxReadiness). */
  whole: boolean;
  /** The real path of the working tree the job uses; null for worktree jobs, which have their own. */
  repo: string | null;
  /** The earlier job of this spool it resumes (not a session id), if any. */
  resume: string | null;
  priority: number;
  /**
   * Its place in submission order: kept by every requeue (deferred/); in the inbox, the file's ctime: the
   * instant it was written or moved there, which `touch` cannot set back (mtime can be).
   */
  queuedAt: number;
  /** A deferred job's earliest start (ms), or 0. */
  notBefore: number;
}

/** Files read at once by a scan: a backlog of thousands must not use up the file descriptors. */
const PEEK_CONCURRENCY = 16;
/** Longest pause before a job that hit an unexpected error is tried again. */
const MAX_SETBACK_MS = 300_000;
/** Tries (pauses from --retry-delay-ms, doubling: about 30 minutes by default) before such a job is failed with its error. */
const MAX_SETBACKS = 6;

/** A spool temp file untouched this long is debris: no write takes an hour between write and rename. */
const DEBRIS_AGE_MS = 3_600_000;
/** How soon a deferred job must be due for `--once` to wait for it (see dueSoon). */
const ONCE_WAITS_MS = 2_000;

export class Worker {
  private readonly running = new Map<string, { repo: string | null; runId: string | null; cancel: AbortController }>();
  /** Jobs whose handling threw (e.g. a full disk): not claimed again before `until`, the pause doubling each time. */
  private readonly setbacks = new Map<string, { count: number; until: number }>();
  private readonly shutdown = new AbortController();
  private readonly ctx: RunJobContext;
  private watcher: FSWatcher | null = null;
  private heartbeat: Heartbeat | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  private stopped: Promise<void> | null = null;
  private idle: (() => void)[] = [];
  /** The last scan set a wake-up sooner than the next tick (a file settling, a job due). */
  private wakeSoon = false;
  /**
   * Peeks of queued files by state and name. Reading every queued file on every scan made a 1,000-job queue
   * cost O(n²); a complete file is now read once and checked again (lstat) only when it is launched, or
   * when a watch event names it.
   */
  private readonly peeks = { inbox: new Map<string, Peek>(), deferred: new Map<string, Peek>() };
  /**
   * The peeks in claim order. A peek replaced or dropped since is stale: skipped, and pruned when the order
   * is sorted again (only after new peeks), so a claim costs no sort or listing of the whole queue.
   */
  private order: Peek[] = [];
  /** The repo of each job file in active/ that another worker claimed, by name, while its inode stays. */
  private readonly claimedRepos = new Map<string, { ino: number; repo: string | null }>();
  private unsorted = false;
  /** Queued files whose lstat failed other than by absence, by `<state>/<name>`, with the error last logged. */
  private readonly unlookable = new Map<string, string>();
  /** Inbox names given by watch events since the last scan: looked at alone, without listing the inbox. */
  private readonly touched = new Set<string>();
  /** The inbox is listed in full by the next scan: at start, on each tick, after an event without a name. */
  private relist = true;
  /**
   * The next scan checks every queued file for changes (an lstat each, a read if changed): on each tick with
   * --poll, where a write in place changes nothing a poll sees (a raised priority would be missed).
   */
  private sweep = false;

  constructor(private readonly opts: WorkerOptions) {
    this.ctx = { ...opts, shutdown: this.shutdown.signal, ownRuns: new Map() };
  }

  /** Starts watching; resolves once the first scan has run. With `once`, resolves when all is done. */
  async start(): Promise<void> {
    const unsafe = this.opts.allowSharedSpool ? [] : await unsafeSpoolDirs(this.opts.layout);
    if (unsafe.length) {
      throw new Error(`refusing an unsafe spool: ${unsafe.join('; ')} (fix the permissions, or --allow-shared-spool)`);
    }
    await ensureSpool(this.opts.layout);
    this.heartbeat = await startHeartbeat(this.opts.layout, this.opts.concurrency, this.opts.log);
    await this.removeDebris();
    await preloadLockfile();
    await this.recover();
    if (this.opts.once) return this.runOnce().finally(() => this.heartbeat?.stop());
    const inbox = this.opts.layout.dir('inbox');
    // Only the inbox directory is watched; its raw events (inotify) name the file that changed. Watching
    // each job file too (chokidar's way) cost a watcher and stats per queued file: with 1,000 queued, more
    // than the jobs themselves, and with --poll a stat of every file every interval.
    this.watcher = new FSWatcher({
      depth: 0,
      ignoreInitial: true, // the rescan below sees what is already there
      ignored: (path) => path !== inbox,
      usePolling: this.opts.pollMs !== null,
      interval: this.opts.pollMs ?? undefined,
    });
    // chokidar also lists and lstats the whole directory on each of its events (again at once if more came
    // meanwhile), whatever `ignored` says: with 10,000 queued, most of the worker's CPU. Only its raw events
    // are used here, so its listing is turned off (no stream: its reader does nothing).
    this.watcher._readdirp = () => undefined;
    this.watcher.add(inbox);
    this.watcher.on('raw', (_event, name) => this.noteChange(name));
    this.watcher.on('error', (err) => this.opts.log(`watch error: ${(err as Error).message}`));
    // Watching before the first listing: a file that arrives between the two is named by an event.
    await new Promise<void>((ready) => this.watcher?.once('ready', () => ready()));
    this.ticker = setInterval(() => void this.tick(), this.opts.rescanMs);
    await this.ring();
  }

  /** Stops claiming, stops running Codex processes (each left in active/ for recovery), closes the watcher. Idempotent. */
  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      if (this.ticker) clearInterval(this.ticker);
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      this.shutdown.abort(); // at once: a scan under way claims nothing more (see scan)
      await this.watcher?.close();
      await this.scanning;
      await this.whenIdle();
      await this.heartbeat?.stop();
    })());
  }

  /**
   * A watch event. inotify names the file (a claim's rename, a submit's rename or write): the next scan
   * looks at that name alone; an event without a usable name (polling names the directory, a name that is
   * not UTF-8) makes it list the inbox. Temp files of atomic writes are left out: their rename names the job file.
   */
  private noteChange(name: unknown): void {
    if (typeof name === 'string' && !name.includes('/') && !name.includes('\uFFFD')) {
      if (isJobFileName(name)) this.touched.add(name);
      else if (!name.startsWith('.')) this.relist = true;
    } else this.relist = true;
    void this.ring();
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

  /** The periodic pass: cancel requests, orphans, then the queue. */
  private async tick(): Promise<void> {
    // Set first: the scan that follows a cancel honoured here (a repo freed) sees what was written before it.
    this.relist = true;
    this.sweep = this.opts.pollMs !== null;
    await this.honourCancelRequests().catch((err: Error) => this.opts.log(`cancel requests: ${err.message}`));
    await this.recover();
    await this.ring();
  }

  /** Cancels running jobs whose cancel request (written by `codex-spool cancel`) names their run. */
  private async honourCancelRequests(): Promise<void> {
    for (const [name, job] of this.running) {
      if (job.cancel.signal.aborted) continue;
      if (await cancelRequested(this.opts.layout, jobIdOf(name), job.runId)) job.cancel.abort();
    }
  }

  /** Temp files of spool writes killed half-way (a SIGKILLed worker or submit), and locks of killed holders, once surely abandoned. */
  private async removeDebris(): Promise<void> {
    // runs/ too: the server clock's probes (runs/.clock.*.tmp) of a worker killed while it asked.
    for (const [dir, shown] of [
      ...JOB_STATES.map((state) => [this.opts.layout.dir(state), `${state}/`]),
      [this.opts.layout.runs, 'runs/'],
    ]) {
      const removed = await removeWriteDebris(dir!, DEBRIS_AGE_MS);
      if (removed.length) this.opts.log(`removed ${removed.length} abandoned temp file(s) from ${shown}`);
    }
    const locks = await removeAbandonedLocks(this.opts.layout.dir('active'), DEBRIS_AGE_MS);
    if (locks) this.opts.log(`removed ${locks} abandoned lock(s) from active/`);
  }

  private async recover(): Promise<void> {
    const ctx = {
      ...this.opts,
      setBack: (name: string, err: Error) => this.setBack({ name, state: 'active' }, err),
      paused: (name: string) => (this.setbacks.get(name)?.until ?? 0) > Date.now(),
      unsuccessful: () => void this.unsuccessful++,
    };
    await recoverOrphans(ctx).catch((err: Error) => this.opts.log(`recovery error: ${err.message}`));
  }

  /** One pass over the queue (inbox and deferred/) in submission order. */
  private async scan(): Promise<void> {
    const states = this.relist ? (['inbox', 'deferred'] as const) : (['deferred'] as const); // deferred/ is small
    const sweep = this.relist && this.sweep;
    [this.relist, this.sweep] = [false, false];
    const touched = new Set(this.touched);
    this.touched.clear();
    const listed = { inbox: [] as string[], deferred: [] as string[] };
    for (const state of states) {
      const names = await readdir(this.opts.layout.dir(state));
      if (names.some((n) => n.includes('\uFFFD')) && (await rejectUndecodableNames(this.opts.layout, state))) {
        this.opts.log(`rejected file name(s) in ${state}/ that are not UTF-8 (see rejected/bad-name-*.error.json)`);
      }
      listed[state] = names.filter(isJobFileName);
      const present = new Set(listed[state]);
      for (const name of this.peeks[state].keys()) if (!present.has(name)) this.peeks[state].delete(name);
      for (const key of this.unlookable.keys())
        if (key.startsWith(`${state}/`) && !present.has(key.slice(state.length + 1))) this.unlookable.delete(key);
    }
    // An inbox file with the id of a live job (running, or queued again) is another job under a taken id:
    // listed, named by an event, or queued before that job went live. A pass over the live jobs, not the
    // inbox; a name is checked on disk as an event may name the live job's own claim, gone from the inbox.
    const live = [...(await readdir(this.activeDir)).filter(isJobFileName), ...listed.deferred];
    const inInbox = new Set(listed.inbox);
    const named = live.filter((n) => inInbox.has(n) || touched.has(n) || this.peeks.inbox.has(n));
    const there = await mapLimit(named, PEEK_CONCURRENCY, (n) => exists(join(this.opts.layout.dir('inbox'), n)));
    const impostors = named.filter((_, i) => there[i]);
    for (const name of impostors) {
      this.peeks.inbox.delete(name);
      touched.delete(name);
      inInbox.delete(name);
    }
    await this.rejectImpostors(impostors);
    // Read: listed files not read whole before (all of them, if changed, on a sweep), and every file an event named.
    const unread = (state: Peek['state'], names: Iterable<string>) =>
      [...names].filter((n) => !this.running.has(n) && (sweep || !this.peeks[state].get(n)?.complete)).map((name) => ({ state, name }));
    const toPeek = [
      ...unread(
        'inbox',
        [...inInbox].filter((n) => !touched.has(n)),
      ),
      ...unread('deferred', listed.deferred),
      ...[...touched].filter((n) => !this.running.has(n)).map((name) => ({ state: 'inbox' as const, name })),
    ];
    // Looked at just now: not looked at again before its launch (a change from here on rings for another scan).
    const fresh = new Set(await mapLimit(toPeek, PEEK_CONCURRENCY, (e) => this.peek(e.state, e.name)));
    if (this.unsorted) {
      this.order = this.order.filter((p) => this.isCurrent(p)).sort(claimOrder);
      this.unsorted = false;
    }
    while (this.order.length && !this.isCurrent(this.order[0]!)) this.order.shift(); // launched or gone
    // A repo whose earlier job runs or is about to blocks its later jobs: one Codex per working tree, in order.
    const blockedRepos = new Set([...this.running.values()].map((r) => r.repo));
    // Listed when a job is first about to launch, after its peek: see claimedElsewhere.
    let claimed: Promise<Set<string>> | null = null;
    const now = Date.now();
    let wakeMs = Infinity;
    // By index up to the length now: a file peeked again below is appended, and ordered by the next pass.
    for (let i = 0, n = this.order.length; i < n; i++) {
      const known = this.order[i]!;
      // Stopping: a job claimed now would only have its Codex started and stopped, an attempt counted.
      if (this.running.size >= this.opts.concurrency || this.shutdown.signal.aborted) break;
      if (!this.isCurrent(known) || this.running.has(known.name)) continue; // a job of its id runs
      if (known.repo !== null && blockedRepos.has(known.repo)) continue; // its repo is taken: no I/O needed
      // Decide only on what the file holds now: one claimed elsewhere is gone; one changed since it was
      // peeked with no event naming it (queued again by another worker, cancelled and retried, rewritten
      // under --poll) is decided on here if it still ranks here, else from its new place on the next pass.
      const p = fresh.has(known) ? known : await this.peek(known.state, known.name);
      if (p === null) continue;
      if (p !== known) {
        this.rescan = true;
        if (claimOrder(p, known) > 0) continue;
      }
      const due = Math.max(p.notBefore, this.setbacks.get(p.name)?.until ?? 0);
      if (due > now) {
        wakeMs = Math.min(wakeMs, due - now); // not due: it holds no place on its repo meanwhile
        continue;
      }
      // A job waiting for an earlier job holds no place on its repo: what it waits for may come after it.
      if (await this.waitsOnEarlierJob(p)) continue;
      const ready =
        p.state === 'deferred'
          ? ({ kind: 'claim' } as const)
          : inboxReadiness({
              complete: p.complete,
              whole: p.whole,
              ageMs: Date.now() - p.mtimeMs,
              settleMs: this.opts.settleMs,
              rejectAfterMs: this.opts.rejectAfterMs,
            });
      const blocked =
        p.repo !== null &&
        (blockedRepos.has(p.repo) || (await this.repoBusyElsewhere(p.repo)) || (await (claimed ??= this.claimedElsewhere())).has(p.repo));
      if (p.repo !== null) blockedRepos.add(p.repo);
      if (ready.kind === 'later') wakeMs = Math.min(wakeMs, ready.afterMs);
      if (ready.kind === 'later' || blocked) continue;
      this.launch(p);
    }
    if (wakeMs !== Infinity && !this.shutdown.signal.aborted) {
      if (this.wakeTimer) clearTimeout(this.wakeTimer);
      // A deferred job may be due days from now: no timer longer than Node can hold (it would fire at once).
      this.wakeTimer = setTimeout(() => void this.ring(), Math.min(wakeMs, this.opts.rescanMs));
    }
    this.wakeSoon = wakeMs < this.opts.rescanMs;
  }

  /** A queued file may still become claimable soon. A pass over the whole queue: only for an idle `--once`. */
  private settling(): boolean {
    return this.wakeSoon || this.order.some((p) => !p.complete && p.state === 'inbox' && this.isCurrent(p));
  }

  /** The peek is the current one of a queued file (not replaced, not launched, not gone). */
  private isCurrent(p: Peek): boolean {
    return this.peeks[p.state].get(p.name) === p;
  }

  /** The current peek of queued job `id`, if any. */
  private queuedPeek(id: string): Peek | undefined {
    const name = `${id}.json`;
    return this.running.has(name) ? undefined : (this.peeks.inbox.get(name) ?? this.peeks.deferred.get(name));
  }

  /**
   * Rejects inbox files whose id a live job holds, at once and without a slot (as `<id>~duplicate`, bytes
   * kept): they never wait for that job to end, hold no place on a repo, and are never taken for it.
   */
  private async rejectImpostors(names: string[]): Promise<void> {
    for (const name of names) {
      try {
        const claim = await claimDuplicate(this.opts.layout, name, jobReadLimit(this.opts.policy, 'inbox'));
        if (claim) await runClaimedJob(this.ctx, claim, NOT_CANCELLED, NO_HOOKS).finally(() => claim.release());
      } catch (err) {
        this.opts.log(`error rejecting the duplicate inbox/${name}: ${(err as Error).message} (tried again next scan)`);
      }
    }
  }

  /** The file's peek: the one made before if it has not changed since, else a new one (remembered). */
  private async peek(state: Peek['state'], name: string): Promise<Peek | null> {
    const peeks = this.peeks[state];
    const path = join(this.opts.layout.dir(state), name);
    // Any error: not claimable now, and no stop to the scan; but one that is not "gone" is said (once while it
    // lasts: a scan every rescan would repeat it for ever), not taken for it.
    const key = `${state}/${name}`;
    const st = await lstat(path).catch((err: Error) => {
      if (isMissing(err)) this.unlookable.delete(key);
      else if (this.unlookable.get(key) !== err.message) {
        this.unlookable.set(key, err.message);
        this.opts.log(`cannot look at ${key}: ${err.message} (left there; looked at again each scan, said again if that changes)`);
      }
      return null;
    });
    if (st) this.unlookable.delete(key);
    if (!st) {
      peeks.delete(name); // claimed by another worker meanwhile
      return null;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const known = peeks.get(name);
    if (known?.stamp === stamp) return known;
    const base = { name, state, stamp, mtimeMs: st.mtimeMs, repo: null, resume: null, priority: 0, queuedAt: st.ctimeMs, notBefore: 0 };
    const p = await this.read(path, base, st);
    if (p) {
      peeks.set(name, p);
      this.order.push(p);
      this.unsorted = true;
    } else peeks.delete(name);
    return p;
  }

  private async read(path: string, base: Omit<Peek, 'complete' | 'whole'>, st: Stats): Promise<Peek | null> {
    // Not a regular file, or too large: complete as it is; the claim rejects it without reading it.
    if (!st.isFile() || st.size > jobReadLimit(this.opts.policy, base.state)) return { ...base, complete: true, whole: false };
    try {
      // Read as it is now, never waiting: whoever can write the spool may have swapped it (a FIFO) since the lstat.
      const text = await readSmallFile(path, jobReadLimit(this.opts.policy, base.state));
      if (text === null) return { ...base, complete: true, whole: false }; // the claim looks again and rejects it, unread
      const json: unknown = JSON.parse(text);
      const job = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
      const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
      const resume = typeof job.resume === 'string' && !SessionId.safeParse(job.resume).success ? job.resume : null;
      return {
        ...base,
        complete: true,
        whole: isWholeJson(json),
        repo: typeof job.repo === 'string' && job.worktree !== true ? await realRepo(job.repo) : null,
        resume,
        priority: num(job.priority, 0),
        queuedAt: base.state === 'deferred' ? num(job.queued_at, base.queuedAt) : base.queuedAt,
        notBefore: typeof job.not_before === 'string' ? num(Date.parse(job.not_before), 0) : 0,
      };
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : { ...base, complete: false, whole: false };
    }
  }

  /** Another worker runs a job in this repo (its repo lock is held). */
  private repoBusyElsewhere(repo: string): Promise<boolean> {
    return isLocked(this.activeDir, resourceLockName('repo', repo));
  }

  /**
   * The repos of jobs other workers have claimed (in active/). A job holds its repo lock only once its claim
   * is validated, so between the two another worker could start a later job of that repo first. Listed
   * after the candidate's earlier jobs were seen gone from the queue, so a claim that took one is in it.
   */
  private async claimedElsewhere(): Promise<Set<string>> {
    const names = (await readdir(this.activeDir)).filter((n) => isJobFileName(n) && !this.running.has(n));
    const maxBytes = Math.max(jobReadLimit(this.opts.policy, 'inbox'), jobReadLimit(this.opts.policy, 'deferred'));
    const repos = await mapLimit(names, PEEK_CONCURRENCY, async (name) => {
      const st = await lstat(join(this.activeDir, name)).catch(ifMissing(null));
      if (!st?.isFile()) return null;
      const known = this.claimedRepos.get(name);
      if (known?.ino === st.ino) return known.repo;
      // Unreadable (gone, too big, not JSON, EACCES): no repo known. It must not stop the scan: it would stop every launch.
      const job = await readJson(join(this.activeDir, name), StoredJob, maxBytes).catch(() => null);
      const repo = job?.repo !== undefined && job.worktree !== true ? await realRepo(job.repo) : null;
      this.claimedRepos.set(name, { ino: st.ino, repo });
      return repo;
    });
    const listed = new Set(names);
    for (const name of this.claimedRepos.keys()) if (!listed.has(name)) this.claimedRepos.delete(name);
    return new Set(repos.filter((r) => r !== null));
  }

  private get activeDir(): string {
    return this.opts.layout.dir('active');
  }

  /**
   * A resume of an earlier job of this spool waits while that job is queued or running, as the claim's
   * validation decides. Only a chain of queued resumes that comes back on itself waits for nothing: the
   * claim rejects it as a cycle.
   */
  private async waitsOnEarlierJob(p: Peek): Promise<boolean> {
    const target = p.resume;
    if (target === null || target === jobIdOf(p.name)) return false;
    if (this.running.has(`${target}.json`) || (await exists(this.opts.layout.job('active', target)))) return true;
    const seen = new Set([jobIdOf(p.name)]);
    for (let t: string | null = target; t !== null && this.queuedPeek(t); t = this.queuedPeek(t)!.resume) {
      if (seen.has(t)) return false;
      seen.add(t);
    }
    return this.queuedPeek(target) !== undefined;
  }

  private launch(p: Peek): void {
    if (this.running.has(p.name)) return;
    const entry = { repo: p.repo, runId: null as string | null, cancel: new AbortController() };
    this.running.set(p.name, entry);
    this.peeks[p.state].delete(p.name); // it leaves the queue (a file left behind is listed again)
    void (async () => {
      const claim = await claimJob(this.opts.layout, p.name, p.state, jobReadLimit(this.opts.policy, p.state));
      if (!claim) return;
      try {
        const outcome = await runClaimedJob(this.ctx, claim, entry.cancel.signal, {
          onRepo: (repo) => (entry.repo = repo),
          onRun: (runId) => (entry.runId = runId),
        });
        if (outcome === 'failed' || outcome === 'rejected') this.unsuccessful++;
        this.setbacks.delete(p.name);
      } finally {
        await claim.release(); // no-op unless the job ended in an error: then recovery takes it
      }
    })()
      .catch((err: Error) => this.setBack(p, err))
      .finally(() => {
        this.running.delete(p.name);
        if (this.running.size === 0) for (const resolve of this.idle.splice(0)) resolve();
        void this.ring();
      });
  }

  /**
   * A job whose handling threw (a full disk, no file descriptors): logged, and left alone for a growing
   * pause; after MAX_SETBACKS tries it is failed with the error, if failed/ can still be written.
   */
  private setBack(p: { name: string; state: JobState }, err: Error): void {
    const count = (this.setbacks.get(p.name)?.count ?? 0) + 1;
    const pauseMs = Math.min(this.opts.retryBaseMs * 2 ** (count - 1), MAX_SETBACK_MS);
    this.setbacks.set(p.name, { count, until: Date.now() + pauseMs });
    this.troubles++;
    this.opts.log(`error ${p.name}: ${err.message} (try ${count}; next in ${Math.round(pauseMs / 1000)} s)`);
    if (count >= MAX_SETBACKS) void this.giveUp(p, `could not be handled after ${count} tries: ${err.message}`);
  }

  /** Files a job that keeps failing to be handled in failed/ with `why`, wherever it now is (inbox, deferred, active). */
  private async giveUp(p: { name: string; state: JobState }, why: string): Promise<void> {
    try {
      const from = p.state === 'inbox' || p.state === 'deferred' ? p.state : null;
      const claim =
        (from && (await claimJob(this.opts.layout, p.name, from, jobReadLimit(this.opts.policy, from)))) ||
        (await takeOverJob(this.opts.layout, p.name));
      if (!claim) return;
      try {
        const text = claim.content.kind === 'bytes' ? claim.content.bytes.toString('utf8') : '';
        const job = PartialQueuedJob.safeParse(parseJsonOrNull(text));
        await finishJob(this.opts.layout, claim, 'failed', recordWithoutRun(job.success ? job.data : {}, { status: 'failed', error: why }));
      } finally {
        // A failed filing (a full disk) must not keep the lock: this live worker would refresh it for ever,
        // and no recovery pass would take the job again once the fault has passed.
        await claim.release();
      }
      this.setbacks.delete(p.name);
      this.opts.log(`failed ${jobIdOf(p.name)}: ${why}`);
    } catch (err) {
      this.opts.log(`error ${p.name}: cannot file its failure either (${(err as Error).message}); tried again later`);
    }
  }

  private whenIdle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Jobs whose handling threw during this worker's life: `--once` reports them with its exit code. */
  troubles = 0;
  /** Jobs this worker filed as failed or rejected (ran or recovered): `--once` reports them with its exit code too. */
  unsuccessful = 0;

  /**
   * A deferred job is due within ONCE_WAITS_MS: `--once` waits for it. That is a job put back for a moment
   * because another run held its repo (another worker's, on the same batch), not one deferred for a backoff
   * or a usage limit. It cannot keep `--once` going for long: once due, it is claimed, or skipped by the scan
   * while its repo is still held (due, so no longer waited for).
   */
  private dueSoon(now = Date.now()): boolean {
    const { count, nextAt } = this.deferredNotDue(now);
    return count > 0 && nextAt - now <= ONCE_WAITS_MS;
  }

  /** Deferred jobs seen by the last scan that are not due yet, and the earliest time one is (ms). */
  deferredNotDue(now = Date.now()): { count: number; nextAt: number } {
    const due = [...this.peeks.deferred.values()].filter((p) => p.notBefore > now).map((p) => p.notBefore);
    return { count: due.length, nextAt: Math.min(...due) };
  }

  /** --once: claim and run until nothing is claimable, waiting to settle, or running. */
  private async runOnce(): Promise<void> {
    let listedAt = 0;
    while (!this.shutdown.signal.aborted) {
      // No watcher: the inbox is listed when idle and every rescanMs, not after each job (a listing of a
      // backlog of thousands costs more than a job).
      if (this.running.size === 0 || Date.now() - listedAt >= this.opts.rescanMs) [this.relist, listedAt] = [true, Date.now()];
      await this.ring();
      if (this.running.size === 0 && !this.settling() && !this.dueSoon()) break;
      await sleep(50);
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.whenIdle();
  }
}

/** Claim order: higher priority first, then submission order, then name. */
const claimOrder = (a: Peek, b: Peek) => b.priority - a.priority || a.queuedAt - b.queuedAt || a.name.localeCompare(b.name);

/** For a claim that can only be rejected: nothing to cancel, no run to report. */
const NOT_CANCELLED = new AbortController().signal;
const NO_HOOKS: RunHooks = { onRepo: () => undefined, onRun: () => undefined };

/**
 * A scheduling hint (an impostor in the inbox, an earlier job still active): any error reads as "not there",
 * since the claim, which looks at the same paths, decides and reports what it cannot read; a throw here
 * would stop the whole scan.
 */
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A repo's identity: its real path (a missing or unreadable one as written, normalised; the claim decides). */
const realRepo = (repo: string) => realpath(repo).catch(() => resolve(repo));

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
