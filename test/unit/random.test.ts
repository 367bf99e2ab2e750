// Random bytes for new ids (src/util/random.ts): the requested number, as hex, and not the same twice.
import { expect, it } from 'vitest';
import { newRunId } from '../../src/spool/run-files.js';
import { randomHex } from '../../src/util/random.js';

it('randomHex(n): 2n hex digits, a new value each call', () => {
  const values = Array.from({ length: 100 }, () => randomHex(4));
  for (const v of values) expect(v).toMatch(/^[0-9a-f]{8}$/);
  expect(new Set(values).size).toBe(100); // 32 bits each: a repeat among 100 has odds of about 1 in a million
  expect(randomHex(256)).toMatch(/^[0-9a-f]{512}$/);
});

it('a run id: its UTC start to the second, then 8 random hex digits', () => {
  expect(newRunId(new Date('2026-11-25T07:15:00.123Z'))).toMatch(/^20261125-071500-[0-9a-f]{8}$/);
});
