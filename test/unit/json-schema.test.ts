// docs/schema/*.json are generated from the zod schemas in src/spool/schema.ts, the one source of truth.
// This test fails when they drift; `npm run schema` rewrites them.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FinishedJob, JobSpec, QueuedJob, RejectionError, RunMeta, RunSummary, WorkerBeat } from '../../src/spool/schema.js';
import { unlazy } from '../../src/util/zod.js';

const DIR = join(import.meta.dirname, '..', '..', 'docs', 'schema');
const SCHEMAS = {
  'job.schema.json': JobSpec,
  'queued-job.schema.json': QueuedJob,
  'finished-job.schema.json': FinishedJob,
  'run-meta.schema.json': RunMeta,
  'run-summary.schema.json': RunSummary,
  'rejection.schema.json': RejectionError,
  'worker-beat.schema.json': WorkerBeat,
};

describe('docs/schema', () => {
  for (const [file, schema] of Object.entries(SCHEMAS)) {
    it(`${file} is what src/spool/schema.ts generates`, async () => {
      const text = `${JSON.stringify(z.toJSONSchema(unlazy(schema), { io: 'input' }), null, 2)}\n`;
      if (process.env.UPDATE_SCHEMA === '1') await writeFile(join(DIR, file), text);
      expect(await readFile(join(DIR, file), 'utf8')).toBe(text);
    });
  }
});
