// The hook as installed, dist/codex-spool-hook: a POSIX sh front that answers "nothing new" without starting
// Node while the session's stamp says so, and hands everything else, byte for byte, to `codex-spool claude
// hook`. Run with sh, dash and bash --posix (those installed); a `node` stub first on PATH records whether
// Node was started, and with what.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, realpath, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, cliProcess, makeTempRoot, projectRoot, type TempRoot } from './helpers/spool-env.js';
import { runHook } from '../src/claude/hook.js';
import { FINISHED_STATES } from '../src/spool/states.js';

const SCRIPT = join(projectRoot, 'dist', 'codex-spool-hook');
const SESSION = '3f2a1c9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b';
/** Claude's own serialisation: session_id first (see docs/claude-code.md). */
const input = (session = SESSION, prompt = 'hi') =>
  `${JSON.stringify({ session_id: session, transcript_path: '/tmp/t.jsonl', cwd: '/tmp', hook_event_name: 'UserPromptSubmit', prompt })}\n`;

const SHELLS = [['sh'], ['dash'], ['bash', '--posix']].filter(([sh]) => spawnSync(sh!, ['-c', ':']).status === 0);

let stubDir: string;
beforeAll(async () => {
  const t = await makeTempRoot();
  stubDir = t.dir;
  // Records its arguments and stdin; prints nothing.
  await writeFile(join(stubDir, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@" > "$STUB_OUT.args"\ncat > "$STUB_OUT.stdin"\n', { mode: 0o755 });
});
afterAll(() => rm(stubDir, { recursive: true, force: true }));

interface ShellRun {
  code: number | undefined;
  stdout: string;
  stderr: string;
  /** What the stub `node` got (null: Node was not started). */
  node: { args: string[]; stdin: Buffer } | null;
}

/** Runs the hook script with `shell`, the stub `node` first on PATH. */
async function viaShell(shell: string[], stdin: string | Buffer, env: Record<string, string>, script = SCRIPT): Promise<ShellRun> {
  const out = join(stubDir, `run-${Math.random().toString(36).slice(2)}`);
  const r = await execa(shell[0]!, [...shell.slice(1), script], {
    input: stdin,
    env: { ...env, PATH: `${stubDir}:${process.env.PATH}`, STUB_OUT: out },
    extendEnv: false,
    reject: false,
  });
  const args = await readFile(`${out}.args`, 'utf8').catch(() => null);
  const node = args === null ? null : { args: args.trimEnd().split('\n'), stdin: await readFile(`${out}.stdin`) };
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), node };
}

/** The env the real hook runs with: the test's HOME and PATH, the root in $CODEX_SPOOL_ROOT (unless `root` is null). */
const hookEnv = (t: TempRoot, root: string | null = t.root): Record<string, string> => {
  const { CODEX_SPOOL_ROOT: _, ...rest } = t.env;
  return { ...rest, PATH: process.env.PATH!, ...(root === null ? {} : { CODEX_SPOOL_ROOT: root }) };
};

const jobFile = (id: string) =>
  `${JSON.stringify({ repo: '/tmp', task: `task ${id}`, result: { status: 'succeeded', final_message: 'ok' } })}\n`;

/** The ids a hook's output tells. */
function told(stdout: string): string[] {
  if (stdout === '') return [];
  const context: string = JSON.parse(stdout).hookSpecificOutput.additionalContext;
  return [...context.matchAll(/\(codex-spool result (\S+)\)$/gm)].map((m) => m[1]!);
}

/** A root whose finished-state directories last changed a minute ago, with one job: a session's state has a stamp once the Node hook ran. */
async function quietRoot(root: string): Promise<void> {
  await writeFile(join(root, 'spool', 'done', 'old.json'), jobFile('old'));
  const past = Date.now() / 1000 - 60;
  for (const s of FINISHED_STATES) await utimes(join(root, 'spool', s), past, past);
}

describe.each(SHELLS)('codex-spool-hook with %s', (...shell) => {
  it('nothing new: exits 0 at once, prints nothing, never starts Node; a job filed just after the stamp is told', async () => {
    const t = await makeTempRoot();
    try {
      await quietRoot(t.root);
      expect((await cliProcess(t, ['claude', 'hook'], { input: input() })).stdout).toBe(''); // first contact: writes the stamp
      expect(await viaShell(shell, input(), hookEnv(t))).toEqual({ code: 0, stdout: '', stderr: '', node: null });

      // Filed within moments (the same second) of the Node hook's listing: newer than the stamp.
      await writeFile(join(t.root, 'spool', 'failed', 'new.json'), jobFile('new'));
      const r = await viaShell(shell, input(), hookEnv(t));
      expect(r.node?.stdin.toString()).toBe(input());
      expect(r.node?.args.slice(1)).toEqual(['claude', 'hook']);
      expect(await realpath(r.node!.args[0]!)).toBe(await realpath(cliPath));
      expect(told((await cliProcess(t, ['claude', 'hook'], { input: input() })).stdout)).toEqual(['new']);
    } finally {
      await t.cleanup();
    }
  });

  /** Ways a session's stamp stops speaking for it, each after the Node hook has stamped a quiet root. */
  const undermined: [string, (t: TempRoot, seen: string) => Promise<void>][] = [
    [
      "a stamp that is a symbolic link (to a file newer than any job) is not the Node hook's (it never follows one there)",
      async (t, seen) => {
        const future = join(t.dir, 'future');
        await writeFile(future, '');
        await utimes(future, Date.now() / 1000 + 86_400, Date.now() / 1000 + 86_400);
        await rm(`${seen}.stamp`);
        await symlink(future, `${seen}.stamp`);
        await writeFile(join(t.root, 'spool', 'done', 'new.json'), jobFile('new'));
      },
    ],
    ['a stamp whose session state file is gone (removed by hand) does not answer for it', (_, seen) => rm(`${seen}.json`)],
  ];
  it.each(undermined)('%s: Node decides', async (_, undermine) => {
    const t = await makeTempRoot();
    try {
      await quietRoot(t.root);
      await cliProcess(t, ['claude', 'hook'], { input: input() });
      await undermine(t, join(t.root, 'spool', '.codex-spool-claude', 'seen', SESSION));
      expect((await viaShell(shell, input(), hookEnv(t))).node?.stdin.toString()).toBe(input());
    } finally {
      await t.cleanup();
    }
  });

  it('a session id not at the very start, escaped, or not a job id goes to Node, with the same bytes', async () => {
    const t = await makeTempRoot();
    try {
      await quietRoot(t.root);
      await cliProcess(t, ['claude', 'hook'], { input: input() });
      const forged = `${JSON.stringify({ hook_event_name: 'UserPromptSubmit', prompt: input(), session_id: 'other' })}\n`;
      const cases = [
        forged,
        ` ${input()}`,
        input().replace(SESSION.slice(0, 2), '\\u0033f'),
        input('.hidden'),
        input('a'.repeat(129)),
        input('a/b'),
        `not json at all\n${'é'.repeat(400)}\n\n\n`,
        '',
      ];
      for (const bytes of cases) {
        const r = await viaShell(shell, bytes, hookEnv(t));
        expect([r.code, r.stdout, r.node?.stdin.toString()], bytes).toEqual([0, '', bytes]);
      }
      // The same session with a stamp, as the control: answered by the shell.
      expect((await viaShell(shell, input(SESSION, 'x'.repeat(100_000)), hookEnv(t))).node).toBeNull();
    } finally {
      await t.cleanup();
    }
  });
});

describe('codex-spool-hook finds the root as the Node hook does', () => {
  it('$CODEX_SPOOL_ROOT, else the package it is in, found through the symlink npm puts on PATH', async () => {
    const t = await makeTempRoot();
    try {
      // A copy of the package, linked from a bin directory as npm links it (relatively).
      const pkg = join(t.dir, 'pkg');
      await mkdir(join(pkg, 'dist'), { recursive: true });
      await writeFile(join(pkg, 'package.json'), '{"name":"codex-spool","version":"0.0.0"}\n');
      for (const f of ['cli.js', 'hook.js', 'package.json', 'codex-spool-hook'])
        await copyFile(join(projectRoot, 'dist', f), join(pkg, 'dist', f));
      await mkdir(join(t.dir, 'bin'));
      const bin = join(t.dir, 'bin', 'codex-spool-hook');
      await symlink('../pkg/dist/codex-spool-hook', bin);
      for (const s of FINISHED_STATES) await mkdir(join(pkg, 'spool', s), { recursive: true });
      await quietRoot(pkg);

      // The Node hook with no $CODEX_SPOOL_ROOT: the package's root; its stamp is where the shell looks.
      const node = await execa('node', [join(pkg, 'dist', 'cli.js'), 'claude', 'hook'], {
        input: input(),
        env: hookEnv(t, null),
        extendEnv: false,
      });
      expect(node.stdout).toBe('');
      await stat(join(pkg, 'spool', '.codex-spool-claude', 'seen', `${SESSION}.stamp`));
      expect((await viaShell(['sh'], input(), hookEnv(t, null), bin)).node).toBeNull();
      expect((await viaShell(['sh'], input(), hookEnv(t, pkg), bin)).node).toBeNull();
      // Another root (no stamp there): Node decides, the package's cli.js beside the script.
      const other = await viaShell(['sh'], input(), hookEnv(t), bin);
      expect(await realpath(other.node!.args[0]!)).toBe(await realpath(join(pkg, 'dist', 'cli.js')));
    } finally {
      await t.cleanup();
    }
  });
});

describe('codex-spool-hook never hides a job the Node hook would tell', () => {
  it("Claude's host clock 3 s ahead of the spool's file server (README: several machines): a job filed just after a listing still goes to Node", async () => {
    const t = await makeTempRoot();
    try {
      await quietRoot(t.root);
      const serverNow = Date.now();
      const nodeHook = () => told(runHook({ session_id: SESSION, hook_event_name: 'UserPromptSubmit' }, t.root, serverNow + 3000));
      await writeFile(join(t.root, 'spool', 'done', 'seen.json'), jobFile('seen'));
      await utimes(join(t.root, 'spool', 'done'), serverNow / 1000 - 30, serverNow / 1000 - 30);
      nodeHook(); // first contact
      await utimes(join(t.root, 'spool', 'done'), serverNow / 1000 - 20, serverNow / 1000 - 20);
      nodeHook(); // a listing, which keeps the stamp
      expect((await viaShell(['sh'], input(), hookEnv(t))).node).toBeNull();
      // Filed after that listing: the directory's mtime by the server's clock, behind the hook's.
      await writeFile(join(t.root, 'spool', 'done', 'new.json'), jobFile('new'));
      await utimes(join(t.root, 'spool', 'done'), serverNow / 1000, serverNow / 1000);
      expect((await viaShell(['sh'], input(), hookEnv(t))).node).not.toBeNull();
      expect(nodeHook()).toEqual(['new']);
    } finally {
      await t.cleanup();
    }
  });

  it('property: random filings (any finished state, mtimes lagging up to 0.9 s) and hook calls on a virtual clock', async () => {
    let fast = 0;
    let slow = 0;
    const step = fc.oneof(
      fc.record({ file: fc.constantFrom(...FINISHED_STATES), lagMs: fc.integer({ min: 0, max: 900 }) }),
      fc.record({ gapMs: fc.constantFrom(0, 300, 1000, 2500, 5000) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 10 }), async (steps) => {
        const t = await makeTempRoot();
        try {
          // Mtimes and the hook's listing times follow a clock an hour behind (utimes, runHook's `now`),
          // stepping as far as each step says: a gap of seconds without waiting for it.
          let now = Date.now() - 3600_000;
          const setMtime = (s: string, ms: number) => utimes(join(t.root, 'spool', s), ms / 1000, ms / 1000);
          await writeFile(join(t.root, 'spool', 'done', 'before.json'), jobFile('before'));
          for (const s of FINISHED_STATES) await setMtime(s, now - 60_000);
          const nodeHook = () => told(runHook({ session_id: SESSION, hook_event_name: 'UserPromptSubmit' }, t.root, now));
          expect(nodeHook()).toEqual([]); // first contact: what was there counts as heard
          const filed: string[] = [];
          const heard: string[] = [];
          for (const [i, s] of steps.entries()) {
            if ('file' in s) {
              filed.push(`j${i}`);
              await writeFile(join(t.root, 'spool', s.file, `j${i}.json`), jobFile(`j${i}`));
              await setMtime(s.file, now - s.lagMs); // a coarse clock's mtime: a little behind
              continue;
            }
            now += s.gapMs;
            const r = await viaShell(['sh'], input(), hookEnv(t));
            expect([r.code, r.stdout]).toEqual([0, '']);
            if (r.node === null) {
              fast++;
              expect(heard.sort()).toEqual(filed.sort());
            } else {
              slow++;
              heard.push(...nodeHook());
            }
          }
          now += 5000;
          heard.push(...nodeHook());
          expect(heard.sort()).toEqual(filed.sort()); // each told exactly once
        } finally {
          await t.cleanup();
        }
      }),
      { numRuns: 25 },
    );
    expect([fast > 0, slow > 0]).toEqual([true, true]); // both ways were taken
  }, 120_000);
});
