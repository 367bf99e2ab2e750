// What a command prints, written straight to file descriptors 1 and 2 (fs.writeSync), not through
// process.stdout/process.stderr: the first touch of those builds the stream modules and, for a pipe, a
// socket, a tenth of a short command's start (bench/README.md). Written synchronously, all of it is out
// before the process exits, however large (a 66 KB result through a pipe), with no drain to wait for.
// The worker's log alone still goes through process.stderr: a long-running process must not block on a
// reader that stalls.
import { writeSync } from 'node:fs';

/** Where a command's output goes; tests that run the program in-process put their own functions here. */
export const output = {
  out: (text: string): void => writeAll(1, text),
  err: (text: string): void => writeAll(2, text),
};

/** Descriptors whose reader has gone (EPIPE): it chose to read no more, so the rest is dropped quietly. */
const closed = new Set<number>();

/** Writes all of `text` to `fd`: a partial write goes on from where it stopped; a full non-blocking pipe is waited for. */
export function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let wait = 1;
  for (let at = 0; at < bytes.length && !closed.has(fd); ) {
    try {
      at += writeSync(fd, bytes, at);
      wait = 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') closed.add(fd);
      else if (code === 'EAGAIN') wait = sleep(wait);
      else throw err;
    }
  }
}

/** Blocks for `ms` and returns the next wait, doubled up to 64 ms (a stalled reader is not polled at full speed). */
function sleep(ms: number): number {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return Math.min(ms * 2, 64);
}
