// zod/mini, not the full zod: the same schemas, checks and messages at a fraction of the start-up cost
// (`submit` and the Claude hook load the schemas on every call). Every module that builds a schema imports
// this first, so the English messages the full zod sets by default are set whichever module loads first.
// (Re-exporting zod/mini from here would defeat esbuild's tree shaking: every locale would be bundled.)
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
