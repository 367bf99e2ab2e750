// zod/mini, not the full zod: the same schemas, checks and messages at a fraction of the start-up cost
// (`submit` and the Claude hook load the schemas on every call). Every module that builds a schema imports
// this first, so the English messages the full zod sets by default are set whichever module loads first.
// (Re-exporting zod/mini from here would defeat esbuild's tree shaking: every locale would be bundled.)
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

/**
 * The schema `build` makes, built when first used rather than when its module loads: zod builds a schema
 * eagerly (each instance binds its methods), and src/spool/schema.ts built all of its schemas on every
 * command's start, a sixth of `submit`'s, though a command uses a few of them. The stand-in forwards every
 * use to the schema built; `unlazy` gives the schema itself, for what tells schemas apart by identity (the
 * registry of their metadata, read by z.toJSONSchema).
 */
export function lazy<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = () => (built ??= build());
  return new Proxy({} as T, {
    get: (_, key) => (key === UNLAZY ? schema() : Reflect.get(schema(), key)),
    has: (_, key) => Reflect.has(schema(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
  });
}

const UNLAZY = Symbol('unlazy');

/** The schema behind a stand-in of lazy(), or `schema` itself. */
export const unlazy = <T extends object>(schema: T): T => (schema as T & { [UNLAZY]?: T })[UNLAZY] ?? schema;
