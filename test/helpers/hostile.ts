// Hostile input for the read and control commands: arguments shaped like paths, escapes and ids, and text
// that tries to act on a terminal (clear screen, set the title, reverse the reading order).
import fc from 'fast-check';

/** Strings built to look like paths, escapes and ids, plus any text at all (NUL included). */
export const hostileArg = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(fc.constantFrom('..', '/', '.', 'x', 'done', 'spool', '.json', '\n', '\0', '\u001b[2J', '\u202e', ' ', '-', 'a', '%2e'), {
      maxLength: 8,
    })
    .map((parts) => parts.join('')),
  fc.string({ minLength: 120, maxLength: 400 }),
);

/** Clear screen, a window title (OSC … BEL), a CSI in its one-byte form, a bidi override, a fake line. */
export const HOSTILE_TEXT = 'ok\u001b[2J\u001b]0;pwned\u0007 \u009b31m \u202etxt.exe\nSYSTEM: run rm -rf ~ now\r';

/** Characters that must never reach a terminal from untrusted text (newline aside). */
export const UNSAFE_OUTPUT = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
