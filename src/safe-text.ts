// Untrusted text (Codex's output, job file names, anything a job file says) made safe to print for a
// person's terminal or for Claude's context: data, never structure. Pure.

/**
 * Characters that can change how text is shown or parsed rather than be shown: C0 controls, DEL, C1
 * controls (ESC starts terminal sequences; CSI is U+009B), line and paragraph separators, and bidi
 * overrides/isolates (which make text read differently from how it is stored).
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
const UNSAFE_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

const escapeChar = (c: string): string => {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** Multi-line text with every control and invisible-formatting character shown as an escape; newlines and tabs kept. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** Text on one line whatever it holds: newlines, tabs and every other control shown as escapes. */
export function safeLine(text: string): string {
  return text.replace(UNSAFE_OR_BREAK, escapeChar);
}

/** JSON.stringify leaves these raw inside strings (it escapes only C0 controls, `"` and `\`). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** JSON with the same values as JSON.stringify, every character a terminal or a reader may act on as a \u escape. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
