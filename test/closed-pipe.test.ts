// A reader that closes the pipe early (`codex-spool status --all | head -c 10`): the command ends quietly,
// with its own exit code, not with an EPIPE stack trace and exit 1.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, makeTempRoot, type TempRoot } from './helpers/spool-env.js';
import { spoolLayout } from '../src/spool/layout.js';

let t: TempRoot;
beforeAll(async () => {
  t = await makeTempRoot();
  const repo = await t.repo('r');
  const layout = spoolLayout(t.root);
  for (let i = 0; i < 50; i++) await writeFile(layout.job('inbox', `job-${i}`), JSON.stringify({ repo, task: 'x' }));
});
afterAll(() => t.cleanup());

/** Runs the CLI with its stdout a pipe whose reading end is closed before the CLI has started, to its end. */
function withStdoutClosed(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [cliPath, ...args], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // Node needs tens of ms to start: the reader is gone before the first write
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('stdout closed by its reader', () => {
  it.each([[['status', '--help']], [['result', '--help']], [['status', '--all']]])('%j: exit 0, nothing on stderr', async (args) => {
    expect(await withStdoutClosed(args)).toEqual({ code: 0, stderr: '' });
  });
});
