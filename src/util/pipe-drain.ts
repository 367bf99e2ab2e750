// Reading what is left in a child's pipes once it has exited, without waiting on whoever else holds them.
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves when `stream` has ended (every writer closed the pipe) or was destroyed: maybe never. */
function whenEnded(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.once('end', resolve).once('close', resolve);
  });
}

/**
 * Waits for the streams (read in flowing mode) to end, at most `maxMs`: a pipe that a process outside
 * the child's control keeps open is given up on, never waited for.
 */
export async function drainWithin(streams: Readable[], maxMs: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([Promise.all(streams.map(whenEnded)), sleep(maxMs, undefined, { signal: timer.signal }).catch(() => {})]); // aborted: they ended
  timer.abort();
}
