// Reading one JSON file of the spool: bounded, never through a link, and checked against its schema.
import * as z from 'zod';
import { readSmallFile, readSmallFileSync } from './atomic-file.js';
import { MAX_JOB_BYTES } from './schema.js';
import { parseJsonOrNull } from '../util/json-text.js';
import { isObject, type JsonObject } from '../util/json-value.js';

/** Any JSON object, the very value parsed (for a file read field by field, e.g. a result an older version wrote). */
export const AnyObject = z.custom<JsonObject>(isObject);

/**
 * The value of JSON file `path` if it is there, a regular file of at most `maxBytes`, valid JSON and what
 * `schema` accepts; else null. Any error but absence (EACCES, EIO) is thrown (see readSmallFile).
 */
export async function readJson<T>(path: string, schema: z.ZodType<T>, maxBytes = MAX_JOB_BYTES): Promise<T | null> {
  return parsedAs(schema, await readSmallFile(path, maxBytes));
}

/** readJson for synchronous callers (the Claude hook). */
export function readJsonSync<T>(path: string, schema: z.ZodType<T>, maxBytes = MAX_JOB_BYTES): T | null {
  return parsedAs(schema, readSmallFileSync(path, maxBytes));
}

function parsedAs<T>(schema: z.ZodType<T>, text: string | null): T | null {
  if (text === null) return null;
  const parsed = schema.safeParse(parseJsonOrNull(text));
  return parsed.success ? parsed.data : null;
}
