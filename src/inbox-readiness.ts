// When an inbox file may be claimed. A plain `echo > inbox/x.json` is not atomic: a file is taken only
// once it parses and has not changed for a moment; one that never parses is rejected after a while. Pure.

export interface ReadinessInput {
  /** The bytes parse as JSON (or the file is not a regular one, or too large: claim it to reject it). */
  complete: boolean;
  /** Time since the file last changed. */
  ageMs: number;
  settleMs: number;
  rejectAfterMs: number;
}

export type Readiness = { kind: 'claim' } | { kind: 'later'; afterMs: number };

export function inboxReadiness({ complete, ageMs, settleMs, rejectAfterMs }: ReadinessInput): Readiness {
  // A file dated in the future (copied from a host with a fast clock) counts as just written.
  const waitMs = (complete ? settleMs : rejectAfterMs) - Math.max(0, ageMs);
  return waitMs <= 0 ? { kind: 'claim' } : { kind: 'later', afterMs: Math.ceil(waitMs) };
}
