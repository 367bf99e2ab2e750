// A command's output written straight to a file descriptor (src/util/output.ts): all of it, in order,
// through a non-blocking pipe that fills faster than its reader empties it (partial writes, EAGAIN). A
// reader that has gone (EPIPE) is test/closed-pipe.test.ts.
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeAll } from '../src/util/output.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-spool-output-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The FIFO's writing end, opened non-blocking once its reader has opened the other (before: ENXIO). */
async function writingEnd(fifo: string): Promise<number> {
  for (;;) {
    try {
      return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

it('a non-blocking pipe of 64 KiB gets all of a text 8 times larger, in order', async () => {
  const fifo = join(dir, 'fifo');
  const copy = join(dir, 'copy');
  await execa('mkfifo', [fifo]);
  const reader = spawn('sh', ['-c', 'cat "$0" > "$1"', fifo, copy], { stdio: 'ignore' });
  const exited = new Promise((resolve) => reader.on('close', resolve));
  const text = Array.from({ length: 40_000 }, (_, i) => `line ${i} é\n`).join(''); // 536 KiB, with multi-byte characters
  const fd = await writingEnd(fifo);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
  expect(await exited).toBe(0);
  expect(await readFile(copy, 'utf8')).toBe(text);
});
