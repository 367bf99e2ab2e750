import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HEARTBEAT_STALE_MS, isLive, workersLine } from '../../src/worker/heartbeat.js';
import type { WorkerBeat } from '../../src/spool/schema.js';

const NOW = Date.parse('2026-12-03T10:00:00Z');
const beat = (over: Partial<WorkerBeat> & { ageMs: number }): WorkerBeat => ({
  pid: 42,
  host: 'here',
  started: new Date(NOW - 3_600_000).toISOString(),
  heartbeat: new Date(NOW - over.ageMs).toISOString(),
  version: '0.1.0',
  concurrency: 2,
  proc_start: 1000,
  ...over,
});
const arbBeat = fc.record({
  ageMs: fc.integer({ min: -5_000, max: 10 * HEARTBEAT_STALE_MS }),
  host: fc.constantFrom('here', 'there'),
  proc_start: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
});
const arbStart = fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }); // the pid's start now; null: no such process

describe('isLive', () => {
  it('a heartbeat older than the stale limit is never live, whatever its process', () => {
    fc.assert(
      fc.property(arbBeat, arbStart, (b, start) => {
        fc.pre(b.ageMs > HEARTBEAT_STALE_MS);
        expect(isLive(beat(b), NOW, 'here', () => start)).toBe(false);
      }),
    );
  });

  it('a heartbeat that cannot be read as a time, or is dated further ahead than the stale limit, is never live (it would count for ever)', () => {
    fc.assert(
      fc.property(
        arbBeat,
        arbStart,
        fc.oneof(
          fc.integer({ min: HEARTBEAT_STALE_MS + 1, max: 1e12 }).map((ms) => new Date(NOW + ms).toISOString()),
          fc.string(),
        ),
        (b, start, heartbeat) => {
          fc.pre(Number.isNaN(Date.parse(heartbeat)) || Date.parse(heartbeat) - NOW > HEARTBEAT_STALE_MS);
          expect(isLive({ ...beat(b), heartbeat }, NOW, 'here', () => start)).toBe(false);
        },
      ),
    );
  });

  it("another host's fresh heartbeat is live (its processes cannot be seen from here)", () => {
    fc.assert(
      fc.property(arbBeat, arbStart, (b, start) => {
        fc.pre(b.ageMs <= HEARTBEAT_STALE_MS && b.host === 'there');
        expect(isLive(beat(b), NOW, 'here', () => start)).toBe(true);
      }),
    );
  });

  it('on this host, a fresh heartbeat is live exactly while its writer runs: a dead or reused pid is not', () => {
    fc.assert(
      fc.property(arbBeat, arbStart, (b, start) => {
        fc.pre(b.ageMs <= HEARTBEAT_STALE_MS && b.host === 'here');
        const sameProcess = start !== null && (b.proc_start === null || b.proc_start === start);
        expect(isLive(beat(b), NOW, 'here', () => start)).toBe(sameProcess);
      }),
    );
  });
});

describe('workersLine', () => {
  it('names each worker with its uptime, or says there is none; host names escaped', () => {
    expect(workersLine([], '/srv/cs', NOW)).toBe('no live worker on /srv/cs');
    expect(workersLine([beat({ ageMs: 0 })], '/srv/cs', NOW)).toBe('worker here:42 up 1h00m');
    expect(workersLine([beat({ ageMs: 0 }), beat({ ageMs: 0, host: 'a\nb', pid: 7 })], '/x', NOW)).toBe(
      '2 workers: here:42 up 1h00m, a\\nb:7 up 1h00m',
    );
  });
});
