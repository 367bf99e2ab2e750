// The one error shape a command reports, and the one test of "that file is not there". Pure.

/**
 * Exit codes: 0 success; 1 the operation failed (or a job did); 2 bad usage or input; 3 no such job;
 * 4 the job has not finished yet; 124 a wait timed out (as timeout(1)).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, pending: 4, timeout: 124 } as const;
type ExitKind = keyof typeof EXIT;

/**
 * The one error shape: what a command reports as one line on stderr (`message`), exiting with `exitCode`.
 * `code` is a stable snake_case name of the kind (by default the EXIT key: `usage`, `not_found`…; a
 * subclass names its own, e.g. `duplicate_id`); `cause`, when given, is the error it reports (kept for a
 * debugger, never printed). Every error the program means to report is one, so `instanceof CliError` is the test.
 */
export class CliError extends Error {
  readonly code: string;

  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options);
    this.code = options?.code ?? snakeCase((Object.keys(EXIT) as ExitKind[]).find((k) => EXIT[k] === exitCode) ?? 'failed');
  }
}

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

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
