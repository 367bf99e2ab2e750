// The Node hook has two ways in: as the installed sh hook hands it over (`codex-spool claude hook`, nothing more) a fast path that
// loads no command parser and, while the finished-state directories are as the session last saw them, no
// digest; with any option the full command. Whichever runs, a session is told of each finished job once.
// (The fast path is in the process shell, src/cli.ts: these run the CLI as a process.)
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cliProcess, makeTempRoot, type TempRoot } from './helpers/spool-env.js';

const SESSION = 'sess-paths';

const finished = (id: string) =>
  `${JSON.stringify({
    repo: '/tmp',
    task: `task ${id}`,
    result: {
      run_id: null,
      session_id: null,
      status: 'succeeded',
      exit_code: 0,
      elapsed_seconds: 1,
      final_message: 'ok',
      error: null,
      summary: null,
    },
  })}\n`;

/** The ids a hook's output tells, in its order. */
function told(stdout: string): string[] {
  if (stdout === '') return [];
  const context: string = JSON.parse(stdout).hookSpecificOutput.additionalContext;
  return [...context.matchAll(/\(codex-spool result (\S+)\)$/gm)].map((m) => m[1]!);
}

async function hook(t: TempRoot, via: 'fast' | 'full'): Promise<string[]> {
  const args = via === 'fast' ? ['claude', 'hook'] : ['claude', 'hook', '--root', t.root];
  const r = await cliProcess(t, args, { input: JSON.stringify({ session_id: SESSION, hook_event_name: 'UserPromptSubmit' }) });
  expect([r.code, r.stderr]).toEqual([0, '']);
  return told(r.stdout);
}

describe('claude hook: the installed fast path and the full command', () => {
  it('property: over jobs filed between hook calls by either path, each job is told exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('file', 'fast', 'full'), { minLength: 3, maxLength: 7 }), async (steps) => {
        const t = await makeTempRoot();
        try {
          const done = join(t.root, 'spool', 'done');
          // Each filing leaves done/ with a new mtime a minute in the past, as if the calls came minutes
          // apart: so the fast path answers from its stats alone whenever nothing was filed since a listing.
          const past = Date.now() / 1000 - 60;
          const file = async (id: string, i: number) => {
            await writeFile(join(done, `${id}.json`), finished(id));
            await utimes(done, past + i, past + i);
          };
          await file('before', 0);
          expect(await hook(t, 'fast')).toEqual([]); // first contact: what was there counts as heard
          const filed: string[] = [];
          const heard: string[] = [];
          for (const [i, step] of steps.entries()) {
            if (step === 'file') {
              filed.push(`j${i}`);
              await file(`j${i}`, i + 1);
            } else heard.push(...(await hook(t, step)));
          }
          heard.push(...(await hook(t, 'fast'))); // a last prompt hears the rest
          expect(heard.sort()).toEqual(filed.sort());
        } finally {
          await t.cleanup();
        }
      }),
      { numRuns: 4 },
    );
  }, 120_000);
});
