import { describe, expect, it } from 'vitest';
import { setBounded } from '../../src/util/bounded-map.js';

describe('setBounded', () => {
  it('keeps the `max` keys set most recently, a key set again counting as new', () => {
    const m = new Map<string, number>();
    for (const [i, k] of ['a', 'b', 'c', 'a', 'd', 'e'].entries()) setBounded(m, k, i, 3);
    expect([...m]).toEqual([
      ['a', 3],
      ['d', 4],
      ['e', 5],
    ]);
  });

  it('never holds more than `max`, whatever the keys', () => {
    const m = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      setBounded(m, (i * 7919) % 97, i, 10);
      expect(m.size).toBeLessThanOrEqual(10);
    }
    expect(m.size).toBe(10);
  });
});
