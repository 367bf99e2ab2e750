// Random bytes for new ids, read from /dev/urandom (the kernel's CSPRNG, as node:crypto's randomBytes):
// loading node:crypto costs several ms, a tenth of a `submit` that names no job id, where this is three
// system calls. node:crypto's own is the fallback.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

/** `n` (at most 256) random bytes as hex. */
export function randomHex(n: number): string {
  const bytes = Buffer.alloc(n);
  let fd: number;
  try {
    fd = openSync('/dev/urandom', 'r');
  } catch {
    return randomBytes(n).toString('hex'); // whatever keeps it closed (no /dev in a chroot) only costs the slower source
  }
  try {
    readSync(fd, bytes); // up to 256 bytes come whole from /dev/urandom
  } finally {
    closeSync(fd);
  }
  return bytes.toString('hex');
}
