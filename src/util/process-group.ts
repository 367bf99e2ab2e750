// Signalling a whole process group (a child started detached leads its own): what the worker uses to stop
// Codex and --on-done commands together with whatever they started in their group.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { clampTimerMs } from './timer-bounds.js';

/** Signals process group `pgid` (signal 0 only asks); false when no process of it is left. */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone. EPERM: only processes we may not signal are left (a `sudo` Codex started):
    // taken as gone too, since waiting for what the worker can never stop would hang it.
    return false;
  }
}

/** Resolves once no process of group `pgid` is left (Linux keeps a group's id unused while it has one). */
export async function groupGone(pgid: number, pollMs = 200): Promise<void> {
  while (killGroup(pgid, 0)) await sleep(pollMs);
}

/** Sends each signal in turn to the group, giving each `graceMs` to bring about `gone`. */
export async function stopGroup(pgid: number, signals: NodeJS.Signals[], graceMs: number, gone: Promise<void>): Promise<void> {
  for (const signal of signals) {
    killGroup(pgid, signal);
    const timer = new AbortController();
    const done = await Promise.race([
      gone.then(() => true),
      sleep(clampTimerMs(graceMs), false, { signal: timer.signal }).catch(() => false), // aborted: the group went first
    ]);
    timer.abort();
    if (done) return;
  }
}

/** What /proc/<pid>/stat says of a process (Linux), or null when there is no such process. */
export function procStat(pid: number): { state: string; pgrp: number; startTicks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields from the 3rd on, after the command name (which may hold spaces and parentheses).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgrp: Number(fields[2]), startTicks: Number(fields[19]) };
  } catch {
    return null;
  }
}
