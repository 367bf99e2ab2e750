// Reading one JSON file of the spool: bounded, never through a link, and checked against its schema.
import '../util/zod.js';
import * as z from 'zod/mini';
import { readSmallFile, readSmallFileSync } from './atomic-file.js';
import { MAX_JOB_BYTES } from './schema.js';
import { parseJsonOrNull } from '../util/json-text.js';

/**
 * The value of JSON file `path` if it is there, a regular file of at most `maxBytes`, valid JSON and what
 * `schema` accepts; else null. Any error but absence (EACCES, EIO) is thrown (see readSmallFile).
 */
export async function readJson<T>(path: string, schema: z.core.$ZodType<T>, maxBytes = MAX_JOB_BYTES): Promise<T | null> {
  return parsedAs(schema, await readSmallFile(path, maxBytes));
}

/** readJson for synchronous callers (the Claude hook). */
export function readJsonSync<T>(path: string, schema: z.core.$ZodType<T>, maxBytes = MAX_JOB_BYTES): T | null {
  return parsedAs(schema, readSmallFileSync(path, maxBytes));
}

function parsedAs<T>(schema: z.core.$ZodType<T>, text: string | null): T | null {
  if (text === null) return null;
  const parsed = z.safeParse(schema, parseJsonOrNull(text)); // any zod schema, mini or full (the tests')
  return parsed.success ? parsed.data : null;
}
