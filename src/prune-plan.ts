// What `prune` removes: finished jobs past an age and the run directories no live job needs. Pure.

/** Parses `30d`, `12h`, `90m`, `45s` (or a bare number of seconds) into milliseconds; null if malformed. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/.exec(text.trim());
  if (!m) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit * 1000;
}

/** The UTC time a run id (`20261125-071500-…`) was made at, in ms; null if it is not such an id. */
export function runIdTime(runId: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-/.exec(runId);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : null;
}

export interface PruneInput {
  cutoffMs: number;
  /** Finished job files (done/failed/rejected) with their mtime. */
  finished: { path: string; mtimeMs: number }[];
  /** Run directory names under runs/. */
  runs: string[];
  /** Runs that a queued or running job still refers to. */
  liveRuns: Set<string>;
  /** Runs that a kept (younger) finished job refers to. */
  keptRuns: Set<string>;
}

/** Finished jobs older than the cutoff, and runs older than it that no live or kept job refers to. */
export function prunePlan({ cutoffMs, finished, runs, liveRuns, keptRuns }: PruneInput) {
  return {
    jobs: finished.filter((f) => f.mtimeMs < cutoffMs).map((f) => f.path),
    runs: runs.filter((r) => {
      const t = runIdTime(r);
      return t !== null && t < cutoffMs && !liveRuns.has(r) && !keptRuns.has(r);
    }),
  };
}
