import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendChild, memberOf, parseSpans, removeChild, type JsonNode } from '../../src/util/json-text.js';
import { spelledJson } from '../helpers/json-spelling.js';

/** Every node's span, read back with JSON.parse, is the value at that place. */
function expectSpansMatch(text: string, node: JsonNode, value: unknown): void {
  expect(JSON.parse(text.slice(node.start, node.end))).toEqual(value);
  if (node.kind === 'array') for (const [i, item] of node.items.entries()) expectSpansMatch(text, item, (value as unknown[])[i]);
  if (node.kind === 'object') {
    const seen = new Set(node.members.map((m) => m.key));
    expect(seen).toEqual(new Set(Object.keys(value as object)));
    for (const key of seen) expectSpansMatch(text, memberOf(node, key)!.value, (value as Record<string, unknown>)[key]);
  }
}

describe('json-text', () => {
  const anyJson = spelledJson(fc.jsonValue({ maxDepth: 3 }));

  it('locates every value of oddly spelled JSON: escapes, number spellings, CRLF, duplicate keys (the last counts) (property)', () => {
    expect(memberOf(parseSpans('{"a":1,"a":2}'), 'a')!.value).toMatchObject({ start: 11, end: 12 });
    fc.assert(
      fc.property(anyJson, ([text]) => expectSpansMatch(text, parseSpans(text), JSON.parse(text))),
      { numRuns: 300 },
    );
  });

  it('refuses what is not JSON', () => {
    for (const bad of ['{"a":1', '[1,]x', '', '{"a" 1}']) expect(() => parseSpans(bad)).toThrow(SyntaxError);
  });

  it('appending a child and removing it again gives back the same bytes; the rest is untouched (property)', () => {
    expect(appendChild('{\r\n\t"a": 1\r\n}', parseSpans('{\r\n\t"a": 1\r\n}'), { b: [2] }, '\t', 'k')).toBe(
      '{\r\n\t"a": 1,\r\n\t"k": {\r\n\t\t"b": [\r\n\t\t\t2\r\n\t\t]\r\n\t}\r\n}',
    );
    fc.assert(
      // What JSON.stringify can write: -0 is written as 0.
      fc.property(
        anyJson,
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
        ([text, value], added) => {
          const root = parseSpans(text);
          if (root.kind === 'scalar') return;
          const out = appendChild(text, root, added, '  ', root.kind === 'object' ? 'new-key' : undefined);
          const after = parseSpans(out);
          const kids = after.kind === 'object' ? after.members : after.kind === 'array' ? after.items : [];
          expect(JSON.parse(out)).toEqual(
            root.kind === 'array' ? [...(value as unknown[]), added] : { ...(value as object), 'new-key': added },
          );
          expect(removeChild(out, after, kids.length - 1)).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
