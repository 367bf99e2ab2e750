// When an inbox file may be claimed. A plain `echo > inbox/x.json` is not atomic: a file is taken once it
// parses as a whole, or, for a text that could still grow into another one, once it has not changed for a
// moment; one that never parses is rejected after a while. Pure.

interface ReadinessInput {
  /** The bytes parse as JSON (or the file is not a regular one, or too large: claim it to reject it). */
  complete: boolean;
  /**
   * The bytes parse as a JSON object or array (or string, true, false, null): such a text ends with its
   * last character, so no later write can turn it into another valid text, only add trailing whitespace;
   * and a `>` that truncates shows an empty or partial text, which does not parse. Only a number
   * (`1` → `12`) can grow and still parse. Nothing to wait for: claimed at once.
   */
  whole: boolean;
  /** Time since the file last changed. */
  ageMs: number;
  settleMs: number;
  rejectAfterMs: number;
}

type Readiness = { kind: 'claim' } | { kind: 'later'; afterMs: number };

export function inboxReadiness({ complete, whole, ageMs, settleMs, rejectAfterMs }: ReadinessInput): Readiness {
  if (complete && whole) return { kind: 'claim' };
  // A file dated in the future (copied from a host with a fast clock) counts as just written.
  const waitMs = (complete ? settleMs : rejectAfterMs) - Math.max(0, ageMs);
  return waitMs <= 0 ? { kind: 'claim' } : { kind: 'later', afterMs: Math.ceil(waitMs) };
}

/** Whether a parsed JSON value is whole: see `ReadinessInput.whole`. */
export const isWholeJson = (value: unknown): boolean => typeof value !== 'number';
