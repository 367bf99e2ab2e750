// JSON values written out the many ways a person or another tool may write them: spacing (tabs, CRLF, none),
// string escapes (\u00e9, \/), number spellings (1.0, 1e3), duplicate keys (JSON.parse keeps the last).
// For property tests of code that must keep such text byte for byte.
import fc from 'fast-check';

type Rand = () => number;

/** A small deterministic PRNG (mulberry32), so that fast-check can shrink through a seed. */
export function rng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const SPACE = ['', '', ' ', '\n', '\r\n', '\n  ', '\r\n\t', '\t', '\n    '];

function spellString(s: string, r: Rand): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const unit = s[i]!;
    const hex = unit.charCodeAt(0).toString(16).padStart(4, '0');
    const u = `\\u${r() < 0.5 ? hex : hex.toUpperCase()}`;
    if (unit === '"' || unit === '\\') out += r() < 0.8 ? `\\${unit}` : u;
    else if (unit < ' ') out += u;
    else if (unit === '/') out += r() < 0.5 ? '\\/' : unit;
    else out += r() < 0.15 ? u : unit;
  }
  return `${out}"`;
}

function spellNumber(n: number, r: Rand): string {
  if (Object.is(n, -0)) return pick(r, ['-0', '-0.0', '-0e0']); // JSON.stringify writes "0"
  if (!Number.isSafeInteger(n)) return JSON.stringify(n);
  return pick(r, [String(n), `${n}.0`, `${n}e0`, `${n}E+00`, `${n}.000`]);
}

/** `value` as JSON text spelled at random by `r`; JSON.parse gives `value` back. */
export function spell(value: unknown, r: Rand): string {
  const sp = () => pick(r, SPACE);
  if (typeof value === 'string') return spellString(value, r);
  if (typeof value === 'number') return spellNumber(value, r);
  if (value === null || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.length ? value.map((v) => `${sp()}${spell(v, r)}${sp()}`).join(',') : sp()}]`;
  const members: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // A duplicate key before the real one: JSON.parse keeps the last.
    if (r() < 0.15) members.push(`${sp()}${spellString(k, r)}${sp()}:${sp()}${spell(pick(r, [0, 'x', null, true]), r)}${sp()}`);
    members.push(`${sp()}${spellString(k, r)}${sp()}:${sp()}${spell(v, r)}${sp()}`);
  }
  return `{${members.length ? members.join(',') : sp()}}`;
}

/** An arbitrary JSON text spelled oddly, with the value it means: [text, value]. */
export const spelledJson = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<[string, T]> =>
  fc.tuple(value, fc.integer(), fc.constantFrom('', '\n', '\r\n', ' \n')).map(([v, seed, tail]) => {
    const r = rng(seed);
    return [`${pick(r, SPACE)}${spell(v, r)}${tail}`, v];
  });
