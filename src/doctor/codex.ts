// What Codex says of its own set-up: `codex doctor --json` (Codex ≥ 0.169), read for the worker's start-up
// check and for `codex-spool doctor`. `codex login status` is not used: it says "Not logged in" (exit 1)
// even when the configured provider needs no OpenAI login.
import { execa } from 'execa';
import '../util/zod.js';
import * as z from 'zod/mini';
import type { Check } from './checks.js';

const CodexCheck = z.object({
  status: z.string(),
  summary: z.string(),
  remediation: z.nullish(z.string()),
});

/** The part of the report codex-spool reads. */
const CodexDoctorReport = z.object({ checks: z.record(z.string(), CodexCheck) });
type CodexDoctorReport = z.infer<typeof CodexDoctorReport>;

/** The checks that matter to running jobs, by Codex's id: a failed credential or config stops every run. */
const CODEX_CHECKS = {
  'auth.credentials': { label: 'codex auth', fatal: true },
  'config.load': { label: 'codex config', fatal: true },
  'network.provider_reachability': { label: 'model provider', fatal: false },
} as const;

/** Runs `codex doctor --json`: its report, or why there is none (an older Codex, a crash). */
export async function codexDoctor(codexBin: string): Promise<CodexDoctorReport | { error: string }> {
  // It exits 1 when any check fails: the report on stdout is what counts.
  const r = await execa(codexBin, ['doctor', '--json'], { stdin: 'ignore', reject: false, timeout: 30_000 });
  try {
    return CodexDoctorReport.parse(JSON.parse(String(r.stdout)));
  } catch {
    const said = String(r.stderr).trim().split('\n').at(-1) ?? '';
    return { error: `\`codex doctor --json\` gave no report (exit ${r.exitCode ?? r.signal}${said ? `: ${said}` : ''})` };
  }
}

/**
 * The verdict on each check that matters to jobs (pure): `fail` for one that stops every run (no
 * credentials, a config that does not load), `warn` for the rest (a provider not reachable now: the
 * network may come back); a Codex that gives no report is a warning too.
 */
export function codexVerdicts(report: CodexDoctorReport | { error: string }): Check[] {
  if ('error' in report) return [{ name: 'codex doctor', status: 'warn', summary: report.error }];
  return Object.entries(CODEX_CHECKS).map(([id, { label, fatal }]) => {
    const check = report.checks[id];
    if (!check) return { name: label, status: 'warn', summary: 'not reported by this Codex' };
    if (check.status === 'ok') return { name: label, status: 'ok', summary: check.summary };
    return {
      name: label,
      status: fatal ? 'fail' : 'warn',
      summary: check.remediation ? `${check.summary} (${check.remediation})` : check.summary,
    };
  });
}
