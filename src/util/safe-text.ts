// Untrusted text (Codex's output, job file names, anything a job file says) made safe to print for a
// person's terminal or for Claude's context: data, never structure. Pure.

/**
 * Characters that can change how text is shown or read rather than be shown: controls (C0, DEL, C1: ESC
 * starts terminal sequences), format characters (bidi overrides and marks, zero-width spaces and joiners,
 * tag characters that can spell hidden text), line and paragraph separators, private-use, unassigned and
 * lone surrogate code points, and every Default_Ignorable_Code_Point — the Unicode class a renderer may
 * show as nothing (variation selectors, which can carry hidden bytes, the combining grapheme joiner,
 * Mongolian selectors, Khmer inherent vowels, Hangul fillers, …) — plus U+2800, the blank braille cell,
 * which is drawn as an empty space though Unicode does not class it as ignorable.
 */
const UNSAFE_OR_BREAK = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/gu;

const escapeChar = (c: string): string => {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const code = c.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
};

/** Multi-line text with every control and invisible-formatting character shown as an escape; newlines and tabs kept. */
export function safeText(text: string): string {
  return text.replace(UNSAFE_OR_BREAK, (c) => (c === '\n' || c === '\t' ? c : escapeChar(c)));
}

/** Text on one line whatever it holds: newlines, tabs and every other control shown as escapes. */
export function safeLine(text: string): string {
  return text.replace(UNSAFE_OR_BREAK, escapeChar);
}

/** `c` as JSON \u escapes, one per UTF-16 code unit (a character beyond U+FFFF is a surrogate pair). */
const jsonEscape = (c: string): string =>
  [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/** JSON with the same values as JSON.stringify, every character a terminal or a reader may act on as a \u escape. */
export function safeJson(value: unknown): string {
  // JSON.stringify escapes C0 controls, quotes and lone surrogates itself; the rest it leaves raw.
  return JSON.stringify(value).replace(UNSAFE_OR_BREAK, jsonEscape);
}
