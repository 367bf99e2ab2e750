// Editing JSON as text: where each value, key and member is, and inserting or removing one member or item
// so that every other byte stays as it was (spacing, line ends, string escapes, number spellings, duplicate
// keys). Pure. The text must already be valid JSON (JSON.parse it first: this only locates).

interface Span {
  start: number;
  end: number;
}
interface Member extends Span {
  key: string;
  keyEnd: number;
  value: JsonNode;
}
export type JsonNode =
  | (Span & { kind: 'object'; members: Member[] })
  | (Span & { kind: 'array'; items: JsonNode[] })
  | (Span & { kind: 'scalar' });

/** The spans of `text`'s values; a member's span runs from its key to the end of its value. */
export function parseSpans(text: string): JsonNode {
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`unexpected ${i < text.length ? JSON.stringify(text[i]) : 'end'} at offset ${i}`);
  };
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const take = (c: string) => {
    skipSpace();
    if (text[i] !== c) fail();
    i++;
  };
  const string = (): Span => {
    const start = i;
    if (text[i++] !== '"') fail();
    while (text[i] !== '"') {
      if (i >= text.length) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    return { start, end: ++i };
  };
  // A container's children: `one` parses a child; the closing character ends the list.
  const children = <T>(close: string, one: () => T): T[] => {
    const out: T[] = [];
    skipSpace();
    if (text[i] === close) return (i++, out);
    for (;;) {
      out.push(one());
      skipSpace();
      if (text[i] === close) return (i++, out);
      take(',');
    }
  };
  const value = (): JsonNode => {
    skipSpace();
    const start = i;
    if (text[i] === '{') {
      i++;
      const members = children('}', () => {
        skipSpace();
        const key = string();
        take(':');
        const v = value();
        return { key: JSON.parse(text.slice(key.start, key.end)) as string, start: key.start, keyEnd: key.end, end: v.end, value: v };
      });
      return { kind: 'object', start, end: i, members };
    }
    if (text[i] === '[') {
      i++;
      const items = children(']', value);
      return { kind: 'array', start, end: i, items };
    }
    if (text[i] === '"') return { kind: 'scalar', ...string() };
    while (i < text.length && /[-+.\w]/.test(text[i]!)) i++; // a number, true, false or null
    if (i === start) fail();
    return { kind: 'scalar', start, end: i };
  };
  const root = value();
  skipSpace();
  if (i !== text.length) fail();
  return root;
}

/** The member JSON.parse would keep for `key` (the last of duplicates), or undefined. */
export function memberOf(node: JsonNode | undefined, key: string): Member | undefined {
  return node?.kind === 'object' ? node.members.filter((m) => m.key === key).at(-1) : undefined;
}

const childrenOf = (node: JsonNode): Span[] => (node.kind === 'object' ? node.members : node.kind === 'array' ? node.items : []);

/** How many members or items `node` has (0 for a scalar). */
export const childCount = (node: JsonNode): number => childrenOf(node).length;

/**
 * `text` with `value` added as the last item of the array `container`, or as member `key` of the object
 * `container`. After an existing child it goes as `,` + the whitespace that precedes that child (its line
 * break and indentation) + the new child, laid out like the file (`indent`: one level, "" for compact); into
 * an empty container, on one line just inside its opening bracket. removeChild takes exactly that out again.
 */
export function appendChild(text: string, container: JsonNode, value: unknown, indent: string, key?: string): string {
  const kids = childrenOf(container);
  const last = kids.at(-1);
  const before = last ? text.slice(spaceStart(text, last.start), last.start) : '';
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const pretty = indent !== '' && before.includes('\n');
  const rendered = pretty
    ? JSON.stringify(value, null, indent).replace(/\n/g, nl + before.slice(before.lastIndexOf('\n') + 1))
    : JSON.stringify(value);
  const lastMember = container.kind === 'object' ? container.members.at(-1) : undefined;
  const colon = lastMember ? text.slice(lastMember.keyEnd, lastMember.value.start) : indent ? ': ' : ':';
  const child = key === undefined ? rendered : `${JSON.stringify(key)}${colon}${rendered}`;
  return last ? splice(text, last.end, last.end, `,${before}${child}`) : splice(text, container.start + 1, container.start + 1, child);
}

/** `text` without child `index` of `container` (an item, or a member) and the comma and spacing that joined it. */
export function removeChild(text: string, container: JsonNode, index: number): string {
  const kids = childrenOf(container);
  const child = kids[index]!;
  if (index > 0) return splice(text, kids[index - 1]!.end, child.end, '');
  const next = kids[index + 1];
  return splice(text, child.start, next ? next.start : child.end, '');
}

function spaceStart(text: string, at: number): number {
  let s = at;
  while (s > 0 && ' \t\n\r'.includes(text[s - 1]!)) s--;
  return s;
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/** The JSON value of `text`, or null if it is not JSON. */
export function parseJsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
