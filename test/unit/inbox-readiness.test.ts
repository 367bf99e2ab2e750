import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inboxReadiness, isWholeJson } from '../../src/worker/inbox-readiness.js';

const settleMs = 500;
const rejectAfterMs = 10_000;

describe('inboxReadiness', () => {
  it('complete but fresh: later, after the rest of the settle time', () => {
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 0, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 500 });
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 120, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 380 });
  });

  it('rounds a fractional wait up, never down to 0', () => {
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 499.2, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 1 });
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 100.5, settleMs, rejectAfterMs })).toEqual({
      kind: 'later',
      afterMs: 400,
    });
  });

  it('complete and settled: claim (at exactly settleMs and after)', () => {
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 500, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 60_000, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
  });

  it('settleMs 0 claims a complete file at once', () => {
    expect(inboxReadiness({ complete: true, whole: false, ageMs: 0, settleMs: 0, rejectAfterMs })).toEqual({ kind: 'claim' });
  });

  it('incomplete: later until rejectAfterMs, even when past settleMs', () => {
    expect(inboxReadiness({ complete: false, whole: false, ageMs: 0, settleMs, rejectAfterMs })).toEqual({
      kind: 'later',
      afterMs: 10_000,
    });
    expect(inboxReadiness({ complete: false, whole: false, ageMs: 600, settleMs, rejectAfterMs })).toEqual({
      kind: 'later',
      afterMs: 9_400,
    });
    expect(inboxReadiness({ complete: false, whole: false, ageMs: 9_999, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 1 });
  });

  it('incomplete past rejectAfterMs: claim (to reject it)', () => {
    expect(inboxReadiness({ complete: false, whole: false, ageMs: 10_000, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
    expect(inboxReadiness({ complete: false, whole: false, ageMs: 99_999, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
  });
});

describe('whole texts are claimed at once', () => {
  it('complete and whole: claim at age 0, whatever the settle time', () => {
    expect(inboxReadiness({ complete: true, whole: true, ageMs: 0, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
    expect(inboxReadiness({ complete: true, whole: true, ageMs: -5_000, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
  });

  it('only a number can grow and still parse', () => {
    expect([{}, [], 'x', true, null].map(isWholeJson)).toEqual([true, true, true, true, true]);
    expect([0, 1, -2.5].map(isWholeJson)).toEqual([false, false, false]);
  });

  // The reasoning behind `whole`: a file read while a writer is still appending shows a prefix of the final
  // text. If that prefix parses and counts as whole, the final text can only be the prefix plus whitespace.
  it('property: a prefix of a JSON text that parses as whole is the text itself, but for trailing whitespace', () => {
    const ws = fc.array(fc.constantFrom(' ', '\n', '\t', '\r'), { maxLength: 3 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), ws, ws, (value, pretty, lead, trail) => {
        const text = lead + JSON.stringify(value, null, pretty ? 2 : undefined) + trail;
        for (let end = 0; end <= text.length; end++) {
          const prefix = text.slice(0, end);
          let parsed: unknown;
          try {
            parsed = JSON.parse(prefix);
          } catch {
            continue;
          }
          if (isWholeJson(parsed)) expect(prefix.trimEnd()).toBe(text.trimEnd());
        }
      }),
      { numRuns: 300 },
    );
  });
});
