// Reading a file that is still being written, one complete line at a time. A run's events file lies in the
// spool: one that is not a regular file (a FIFO, a link put in its place) reads as not there yet, never as a wait.
import { StringDecoder } from 'node:string_decoder';
import { openRegular } from './regular-file.js';

/** The last `maxBytes` of a file ('' if it is not there or not a regular file): a run's latest events are at its end. */
export async function readTail(path: string, maxBytes: number): Promise<string> {
  const opened = await openRegular(path);
  if (!opened) return '';
  const { file, size } = opened;
  try {
    const length = Math.min(size, maxBytes);
    const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await file.close();
  }
}

/** Follows a growing file: each read() returns the complete lines appended since the previous one. */
export class LineTail {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(readonly path: string) {}

  /** Complete lines appended since the last read; none while the file does not exist yet (or is not a regular file). */
  async read(): Promise<string[]> {
    const fh = (await openRegular(this.path))?.file;
    if (!fh) return [];
    let text = this.partial;
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        text += this.decoder.write(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines;
  }

  /** The last line if it has no newline: call once the writer is done. */
  rest(): string[] {
    const last = this.partial + this.decoder.end();
    this.partial = '';
    return last ? [last] : [];
  }
}
