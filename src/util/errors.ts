// The one error shape a command reports, and the one test of "that file is not there". Pure.

/**
 * Exit codes: 0 success; 1 the operation failed (or a job did); 2 bad usage or input; 3 no such job;
 * 4 the job has not finished yet; 124 a wait timed out (as timeout(1)). (141, stdout closed by its reader, is
 * the process shell's: src/cli.ts.)
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, pending: 4, timeout: 124 } as const;
type ExitKind = keyof typeof EXIT;

/**
 * An error the user can act on: printed as one line on stderr, exiting with `exitCode`. `code` names the
 * kind (the EXIT key); `cause`, when given, is the error it reports (kept for a debugger, never printed).
 */
export class CliError extends Error {
  readonly code: ExitKind;

  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = (Object.keys(EXIT) as ExitKind[]).find((k) => EXIT[k] === exitCode) ?? 'failed';
  }
}

/** True when `err` says a path (or a directory on the way to it) does not exist: ENOENT, ENOTDIR. */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * For `.catch(ifMissing(absent))`: a path that is not there reads as `absent`; every other error (EACCES,
 * EIO, ELOOP, EMFILE…) is thrown on, so that it surfaces instead of passing for "no such file".
 */
export function ifMissing<T>(absent: T): (err: unknown) => T {
  return (err) => {
    if (isMissing(err)) return absent;
    throw err;
  };
}
