import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/util/line-splitter.js';
import { capText } from '../../src/util/text-cap.js';

function split(chunks: (string | Buffer)[], max = 10) {
  const lines: string[] = [];
  const skipped: number[] = [];
  const s = new LineSplitter(
    max,
    (l) => lines.push(l),
    (n) => skipped.push(n),
  );
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  s.end();
  return { lines, skipped };
}

describe('LineSplitter', () => {
  it('splits across chunks, strips a CR, keeps empty lines, ends with an unterminated line', () => {
    expect(split(['ab', 'c\r\n\nde', 'f\ngh']).lines).toEqual(['abc', '', 'def', 'gh']);
  });

  it('a multi-byte character split between chunks is decoded whole', () => {
    const euro = Buffer.from('€\n');
    expect(split([euro.subarray(0, 1), euro.subarray(1)]).lines).toEqual(['€']);
  });

  it('a line over the limit is skipped (its length reported), the lines around it are kept', () => {
    const { lines, skipped } = split(['ok\n', 'x'.repeat(7), 'x'.repeat(7), 'x'.repeat(100), '\nnext\n']);
    expect(lines).toEqual(['ok', 'next']);
    expect(skipped).toEqual([114]);
  });

  it('holds at most the limit however long the line: 64 MiB in 64 KiB chunks', () => {
    const chunk = Buffer.alloc(64 * 1024, 'y');
    const s = new LineSplitter(
      1024 * 1024,
      () => {},
      () => {},
    );
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1024; i++) s.push(chunk);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('capText', () => {
  it('keeps text that fits, cuts longer text at a character boundary with a marker', () => {
    expect(capText('short', 10, 'f')).toBe('short');
    expect(capText('ééééé', 10, 'f')).toBe('ééééé');
    expect(capText('éééééé', 9, '/run/x')).toBe('éééé\n… [cut after 8 bytes; the whole text is in /run/x]');
    expect(capText('😀😀', 6, 'f')).toBe('😀\n… [cut after 4 bytes; the whole text is in f]');
  });
});
