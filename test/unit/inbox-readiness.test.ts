import { describe, expect, it } from 'vitest';
import { inboxReadiness } from '../../src/inbox-readiness.js';

const settleMs = 500;
const rejectAfterMs = 10_000;

describe('inboxReadiness', () => {
  it('complete but fresh: later, after the rest of the settle time', () => {
    expect(inboxReadiness({ complete: true, ageMs: 0, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 500 });
    expect(inboxReadiness({ complete: true, ageMs: 120, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 380 });
  });

  it('rounds a fractional wait up, never down to 0', () => {
    expect(inboxReadiness({ complete: true, ageMs: 499.2, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 1 });
    expect(inboxReadiness({ complete: true, ageMs: 100.5, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 400 });
  });

  it('complete and settled: claim (at exactly settleMs and after)', () => {
    expect(inboxReadiness({ complete: true, ageMs: 500, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
    expect(inboxReadiness({ complete: true, ageMs: 60_000, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
  });

  it('settleMs 0 claims a complete file at once', () => {
    expect(inboxReadiness({ complete: true, ageMs: 0, settleMs: 0, rejectAfterMs })).toEqual({ kind: 'claim' });
  });

  it('incomplete: later until rejectAfterMs, even when past settleMs', () => {
    expect(inboxReadiness({ complete: false, ageMs: 0, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 10_000 });
    expect(inboxReadiness({ complete: false, ageMs: 600, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 9_400 });
    expect(inboxReadiness({ complete: false, ageMs: 9_999, settleMs, rejectAfterMs })).toEqual({ kind: 'later', afterMs: 1 });
  });

  it('incomplete past rejectAfterMs: claim (to reject it)', () => {
    expect(inboxReadiness({ complete: false, ageMs: 10_000, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
    expect(inboxReadiness({ complete: false, ageMs: 99_999, settleMs, rejectAfterMs })).toEqual({ kind: 'claim' });
  });
});
