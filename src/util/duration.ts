// Durations as people write them on a command line: a number and a unit (pure).
// `m` is minutes; months are refused rather than guessed (`1m` read as a month would delete far too much).

export const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type DurationUnit = keyof typeof UNIT_MS;

/** How a duration is written, for help texts and errors. */
export const DURATION_FORMS = '45s, 10m, 12h, 30d (units ms, s, m = minutes, h, d, w; no months)';

/**
 * Parses `30d`, `12h`, `10m`, `45s`, `500ms`, `2w` into ms. A bare number counts in `bareUnit`, or is refused
 * when there is none (the option's name does not say its unit).
 */
export function parseDuration(text: string, bareUnit: DurationUnit | null): { ms: number } | { error: string } {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  if (!m) return { error: `"${text}" is not a duration like ${DURATION_FORMS}` };
  const [, amount, written] = m as unknown as [string, string, string];
  if (/^(mo|mos|mon|month|months|M)$/.test(written))
    return { error: `"${text}": months are not accepted (m is minutes); write days, e.g. 30d` };
  const unit = written === '' ? bareUnit : written;
  if (unit === null) return { error: `"${text}" has no unit; write ${DURATION_FORMS}` };
  if (!Object.hasOwn(UNIT_MS, unit)) return { error: `"${text}": unknown unit "${written}"; write ${DURATION_FORMS}` };
  return { ms: Number(amount) * UNIT_MS[unit as DurationUnit] };
}
