// The patterns of a job id and a UUID. Pure, and without zod: the Claude hook's fast path checks a session
// file stem with the job id's rule before it loads any schema (schema.ts builds JobId and SessionId on these).

/** The pattern of a job id (unanchored, for use inside other patterns): see JobId in schema.ts. */
export const JOB_ID_SOURCE = '[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}';
/** The pattern of a UUID, any case (unanchored): see SessionId in schema.ts. */
export const UUID_SOURCE = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

const JOB_ID = new RegExp(`^${JOB_ID_SOURCE}$`);

/** True when `s` is a job id: one file name stem, never a path (JobId's rule). */
export function isJobId(s: string): boolean {
  return JOB_ID.test(s);
}
