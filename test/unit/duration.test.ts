import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/util/duration.js';

const UNITS: [string, number][] = [
  ['ms', 1],
  ['s', 1e3],
  ['m', 6e4],
  ['h', 3.6e6],
  ['d', 8.64e7],
  ['w', 6.048e8],
];

describe('parseDuration', () => {
  it('any whole number with any unit is that many of the unit (m is minutes)', () => {
    fc.assert(
      fc.property(fc.nat(1e6), fc.constantFrom(...UNITS), fc.constantFrom('', ' '), (n, [unit, ms], gap) => {
        expect(parseDuration(`${n}${gap}${unit}`, null)).toEqual({ ms: n * ms });
      }),
    );
  });

  it("a bare number counts in the option's own unit, and is refused where the option has none", () => {
    fc.assert(
      fc.property(fc.nat(1e6), (n) => {
        expect(parseDuration(String(n), 's')).toEqual({ ms: n * 1000 });
        expect(parseDuration(String(n), null)).toHaveProperty('error', expect.stringContaining('has no unit'));
      }),
    );
  });

  it('months are refused, never read as minutes or guessed; other units and text are refused', () => {
    for (const text of ['1mo', '1M', '3months', '2 month'])
      expect(parseDuration(text, null)).toHaveProperty('error', expect.stringContaining('months are not accepted'));
    for (const text of ['2y', '1x', '1min'])
      expect(parseDuration(text, 's')).toHaveProperty('error', expect.stringContaining('unknown unit'));
    for (const text of ['', 'soon', '-1d', '1e3s', 'd'])
      expect(parseDuration(text, 's')).toHaveProperty('error', expect.stringContaining('is not a duration'));
  });
});
