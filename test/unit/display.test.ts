// Untrusted names and text made safe to show: quoted names, one-line text, JSON without raw controls.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shownName } from '../../src/spool/layout.js';
import { oneLine, quoted } from '../../src/util/display.js';
import { STATUS_LINE_BYTES, statusTable } from '../../src/read/format.js';
import type { JobFacts } from '../../src/read/facts.js';
import { safeJson } from '../../src/util/safe-text.js';
import { HOSTILE_TEXT, UNSAFE_OUTPUT } from '../helpers/hostile.js';

const anyText = fc.oneof(fc.constant(HOSTILE_TEXT), fc.string({ unit: 'binary', maxLength: 200 }));

describe('shownName', () => {
  it('a job id as it is; any other name quoted, escaped, on one line, cut', () => {
    expect(shownName('job-1.a_b')).toBe('job-1.a_b');
    expect(shownName('evil\n\u001b[2J\u202e"x')).toBe('"evil\\n\\u001b[2J\\u202e\\"x"');
    expect(shownName('.hidden')).toBe('".hidden"');
    expect(quoted('x'.repeat(500))).toHaveLength(82);
    fc.assert(
      fc.property(anyText, (s) => {
        expect(shownName(s)).not.toMatch(/[\n]|[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      }),
    );
  });
});

describe('oneLine', () => {
  it('never lets a line break or a control through, and keeps to its width (property)', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 1, max: 200 }), (s, max) => {
        const line = oneLine(s, max);
        expect(line).not.toMatch(/[\n]|[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
        expect(line.length).toBeLessThanOrEqual(max);
      }),
    );
  });
});

describe('safeJson', () => {
  it('is JSON with the same values, with no raw control, separator or bidi character (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), anyText, (value, text) => {
        const doc = { value, text };
        const out = safeJson(doc);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(doc)));
        expect(out).not.toMatch(UNSAFE_OUTPUT);
        expect(out).not.toMatch(/\n/);
      }),
    );
  });
});

describe('statusTable', () => {
  it('one row per job whatever its fields hold; a hostile name is quoted', () => {
    const facts: JobFacts = {
      id: HOSTILE_TEXT,
      state: 'rejected',
      status: 'rejected',
      repo: `/r/${HOSTILE_TEXT}`,
      run_id: null,
      session_id: HOSTILE_TEXT,
      exit_code: null,
      age_seconds: 1,
      elapsed_seconds: null,
      final_message: null,
      error: HOSTILE_TEXT,
      reason: HOSTILE_TEXT,
      not_before: '2026-01-01T00:05:00.000Z',
      activity: HOSTILE_TEXT,
      since: '2026-01-01T00:00:00.000Z',
    };
    const queued = (['active', 'deferred', 'inbox'] as const).map((state) => ({
      ...facts,
      id: 'fine',
      state,
      status: null,
      repo: '/r/app',
      session_id: null,
    }));
    const rows = statusTable([facts, { ...facts, id: 'fine' }, ...queued], new Set(), Date.parse('2026-01-01T00:00:00.000Z'));
    expect(rows).toHaveLength(6);
    for (const row of rows) expect(row).not.toMatch(UNSAFE_OUTPUT);
    // Fields of a usual size: the note (activity, reason) is cut so that each line stays within bounds.
    for (const row of statusTable(queued)) expect(Buffer.byteLength(row)).toBeLessThanOrEqual(STATUS_LINE_BYTES);
    expect(rows[1]).toMatch(/^"ok\\u001b\[2J/);
  });
});
