// The launch fence (src/codex/liveness.ts LAUNCHER) through runCodex.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { runCodex } from '../src/codex/runner.js';

let t: TempRoot;
beforeEach(async () => {
  t = await makeTempRoot();
});
afterEach(() => t.cleanup());

async function setup(binName: string, body: string) {
  const dir = join(t.dir, 'a launch dir ');
  await mkdir(dir);
  const binDir = join(dir, 'bin dir -x $y `z`');
  await mkdir(binDir);
  const bin = join(binDir, binName);
  await writeFile(bin, `#!/bin/sh\n${body}\n`);
  await chmod(bin, 0o755);
  const runDir = join(dir, 'runs', 'run1');
  await mkdir(runDir, { recursive: true });
  return { dir, bin, binDir, runDir };
}
const run = (runDir: string, codexBin: string, argv: string[], stop = new AbortController()) =>
  runCodex({
    codexBin,
    argv,
    prompt: 'p',
    promptFile: join(runDir, 'prompt'),
    runDir,
    eventsFile: join(runDir, 'events.jsonl'),
    logFile: join(runDir, 'log'),
    graceMs: 500,
    stop: stop.signal,
    cancel: new AbortController().signal,
    onSpawn() {},
    onSessionId() {},
  });

const ODD = ['a b', `"q'`, 'line\nbreak', '-x', '--', '$HOME', '`id`', '$(id)', '', '\\', '*', ' lead', 'é\u0001'];
const DUMP = `for a in "$@"; do printf '%s\\0' "$a"; done > "$OUT"`;

describe('the launch hands Codex its argv intact', () => {
  it('odd argv, a path with spaces, $, backticks and a leading -', async () => {
    const { dir, bin, runDir } = await setup('-codex x', DUMP);
    process.env.OUT = join(dir, 'out');
    const o = await run(runDir, bin, ODD);
    expect(o.spawnError).toBeNull();
    expect(o.exitCode).toBe(0);
    expect((await readFile(join(dir, 'out'), 'utf8')).split('\0').slice(0, -1)).toEqual(ODD);
  });
  it('a bare name found on PATH', async () => {
    const { dir, binDir, runDir } = await setup('codexrt', DUMP);
    process.env.OUT = join(dir, 'out');
    const old = process.env.PATH;
    process.env.PATH = `${binDir}:${old}`;
    try {
      const o = await run(runDir, 'codexrt', ODD);
      expect(o.spawnError).toBeNull();
      expect((await readFile(join(dir, 'out'), 'utf8')).split('\0').slice(0, -1)).toEqual(ODD);
    } finally {
      process.env.PATH = old;
    }
  });
  it('a Codex that exits 75 itself is not reported fenced', async () => {
    const { bin, runDir } = await setup('c', 'exit 75');
    const o = await run(runDir, bin, []);
    expect(o.fenced).toBe(false);
    expect(o.exitCode).toBe(75);
  });
  it('a Codex that ignores SIGINT and TERM is still stopped', async () => {
    const { bin, runDir } = await setup('c', `trap '' INT TERM; echo started > "$OUT"; while :; do sleep 0.1; done`);
    process.env.OUT = join(runDir, 'st');
    const stop = new AbortController();
    const p = run(runDir, bin, [], stop);
    for (;;) {
      if (await readFile(join(runDir, 'st'), 'utf8').catch(() => '')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    stop.abort();
    const o = await p;
    expect(o.signal).toBe('SIGKILL');
    expect(o.stopped).toBe(true);
  }, 10_000);
});
