// The one short line (or JSON object) that tells a caller a job is queued and where its result will be.
import type { SpoolLayout } from './spool-layout.js';

export function queuedOutput(layout: SpoolLayout, id: string, json: boolean): string {
  const result = layout.job('done', id);
  return json
    ? `${JSON.stringify({ id, state: 'inbox', result, failed: layout.job('failed', id) })}\n`
    : `${id} queued; result: ${result} (or spool/failed/)\n`;
}
