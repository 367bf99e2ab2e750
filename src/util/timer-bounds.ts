// Node fires a timer set above 2^31-1 ms at once (with a warning): every duration that becomes a timer
// is bounded by this. Pure.

/** The longest delay a Node timer holds (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` brought into 0…MAX_TIMER_MS (a defence: options are validated where they are parsed). */
export function clampTimerMs(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_TIMER_MS) : MAX_TIMER_MS;
}
