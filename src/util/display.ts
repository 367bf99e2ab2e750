// Small text formatting for people: durations, one-line truncation, lists and columns, and untrusted text
// made safe to show (see util/safe-text.ts). Pure.
import { isAbsolute, relative } from 'node:path';
import { safeLine } from './safe-text.js';

/** A duration for people: `0.4s`, `41s`, `3m12s`, `2h05m`, `3d04h`; `-` for null. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.max(0, seconds);
  if (s < 10) return `${Math.round(s * 10) / 10}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(Math.floor(s % 60))}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

/**
 * Text on one line (whitespace runs collapsed, every other control shown as an escape: see safeLine) of at
 * most `max` characters, `…` marking a cut.
 */
export function oneLine(text: string, max: number): string {
  return cut(safeLine(text.replace(/\s+/g, ' ').trim()), max);
}

/** oneLine, controls left as they are: for a caller that quotes the text itself (a JSON string). */
export function collapsed(text: string, max: number): string {
  return cut(text.replace(/\s+/g, ' ').trim(), max);
}

const cut = (flat: string, max: number) => (flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`);

/** Text on one line of at most `maxBytes` UTF-8 bytes, `…` marking a cut. */
export function oneLineBytes(text: string, maxBytes: number): string {
  let line = oneLine(text, maxBytes);
  while (Buffer.byteLength(line) > maxBytes && line.length > 1) line = oneLine(line, line.length - 1);
  return line;
}

/** A path relative to `base` when it lies inside it, else unchanged. */
export function shortPath(path: string, base: string | null): string {
  if (!base || !isAbsolute(path)) return path;
  const rel = relative(base, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Items joined by `sep` within about `budget` characters; those left out are counted as `+N more`. */
export function fitList(items: readonly string[], budget: number, sep = ', '): string {
  let out = '';
  for (let i = 0; i < items.length; i++) {
    const more = (n: number) => (n > 0 ? ` +${n} more` : '');
    const next = out ? `${out}${sep}${items[i]}` : items[i]!;
    if (next.length + more(items.length - i - 1).length <= budget) {
      out = next;
      continue;
    }
    // The first item alone is too long: show it cut rather than nothing.
    if (!out) return `${oneLine(items[i]!, Math.max(8, budget - more(items.length - 1).length))}${more(items.length - 1)}`;
    return `${out}${more(items.length - i)}`;
  }
  return out;
}

/** Rows as columns padded to the widest cell (the last column is not padded). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join(' ')
      .trimEnd(),
  );
}

/**
 * Untrusted text as a quoted, escaped string on one line (JSON string syntax, then every other control
 * or invisible-formatting character escaped), cut at `max` characters: for names that are not job ids.
 */
export function quoted(text: string, max = 80): string {
  return safeLine(JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text));
}

/** `text` as one shell word: as it is when plain, else single-quoted. Pure. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
