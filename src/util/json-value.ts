// Reading fields of parsed, untrusted JSON, where a field of the wrong type counts as not given. Pure.
import type { Usage } from '../spool/schema.js';

export type JsonObject = Record<string, unknown>;

/** A JSON object (not an array, not null). */
export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `v` if it is a JSON object, else null. */
export const objectOr = (v: unknown): JsonObject | null => (isObject(v) ? v : null);

/** A string, else null. */
export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** A finite number, else null. */
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Token usage from Codex's `turn.completed` `usage` object: a count that is missing or not a number is 0. */
export function usageOf(u: JsonObject): Usage {
  return {
    input_tokens: num(u.input_tokens) ?? 0,
    cached_input_tokens: num(u.cached_input_tokens) ?? 0,
    output_tokens: num(u.output_tokens) ?? 0,
    reasoning_output_tokens: num(u.reasoning_output_tokens) ?? 0,
  };
}
