// Keeping untrusted text of any size out of small result files: a bounded head and a note saying where
// the whole text is. Pure.

/**
 * `text` if it fits in `maxBytes` of UTF-8, else its longest head that does (never a split character)
 * followed by a marker that says it was cut and where the whole text is.
 */
export function capText(text: string, maxBytes: number, whole: string): string {
  // A JS string takes at most 3 UTF-8 bytes per UTF-16 unit: short strings need no encoding.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back off to the start of a character
  return `${bytes.subarray(0, end).toString('utf8')}\n… [cut after ${end} bytes; the whole text is in ${whole}]`;
}
