// The call log of the model Codex stand-in (test/chaos/fixtures/model-codex) and the invariants every
// run of the scheduler must keep, judged from that log alone. Pure, apart from reading the file.
import { readFile } from 'node:fs/promises';

export type RunOutcome = 'ok' | 'failed' | 'interrupted' | 'broken-pipe';

/** One Codex call, as the stand-in logged it. Times are µs since the epoch. */
export interface RunRecord {
  pid: number;
  job: string;
  session: string;
  resumed: boolean;
  /** The real path of the directory Codex was given with --cd. */
  tree: string;
  start: number;
  /** null: the process died without logging its end (SIGKILL). */
  end: number | null;
  outcome: RunOutcome | null;
}

/** Parses the log: start and end lines matched by pid and job (pids are not reused within one test). */
export function parseRunLog(text: string): RunRecord[] {
  const runs: RunRecord[] = [];
  const open = new Map<string, RunRecord>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const start = /^start (\d+) (\d+) (\S+) (\S+) (new|resume) (.*)$/.exec(line);
    if (start) {
      const run: RunRecord = {
        pid: Number(start[1]),
        start: Number(start[2]),
        job: start[3]!,
        session: start[4]!,
        resumed: start[5] === 'resume',
        tree: start[6]!,
        end: null,
        outcome: null,
      };
      runs.push(run);
      open.set(`${run.pid} ${run.job}`, run);
      continue;
    }
    const end = /^end (\d+) (\d+) (\S+) (\S+) (ok|failed|interrupted|broken-pipe)$/.exec(line);
    if (!end) throw new Error(`bad model-codex log line: ${JSON.stringify(line)}`);
    const run = open.get(`${end[1]} ${end[3]}`);
    if (!run) throw new Error(`end without start: ${line}`);
    open.delete(`${end[1]} ${end[3]}`);
    run.end = Number(end[2]);
    run.outcome = end[5] as RunOutcome;
  }
  return runs;
}

export async function readRunLog(path: string): Promise<RunRecord[]> {
  return parseRunLog(await readFile(path, 'utf8').catch(() => ''));
}

const describeRun = (r: RunRecord) =>
  `${r.job}(pid ${r.pid}, ${r.resumed ? 'resume' : 'new'} ${r.session.slice(0, 8)}, ${r.outcome ?? 'no end'})`;

/** Pairs of runs that share a key and whose [start, end] intervals meet (a run with no end never ended). */
function overlaps(runs: RunRecord[], keyOf: (r: RunRecord) => string, what: string): string[] {
  const out: string[] = [];
  const byKey = new Map<string, RunRecord[]>();
  for (const r of runs) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
  for (const [key, group] of byKey) {
    const sorted = [...group].sort((a, b) => a.start - b.start);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const a = sorted[i]!;
        const b = sorted[j]!;
        if ((a.end ?? Infinity) >= b.start) out.push(`two runs at once in ${what} ${key}: ${describeRun(a)} and ${describeRun(b)}`);
      }
    }
  }
  return out;
}

/**
 * The scheduler's invariants over the whole log: no two runs at once in one working tree (by real path)
 * or in one Codex session, and no run of a job after a run of it that succeeded.
 */
export function runLogViolations(runs: RunRecord[]): string[] {
  const out = [...overlaps(runs, (r) => r.tree, 'working tree'), ...overlaps(runs, (r) => r.session, 'session')];
  const succeeded = new Map<string, RunRecord>();
  for (const r of [...runs].sort((a, b) => a.start - b.start)) {
    const ok = succeeded.get(r.job);
    if (ok) out.push(`${r.job} run again after a run that succeeded: ${describeRun(ok)} then ${describeRun(r)}`);
    if (r.outcome === 'ok' && !ok) succeeded.set(r.job, r);
  }
  return out;
}
