// `codex-spool usage`: where the Codex tokens went, per day, per session chain and per job.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, positiveInt, withRoot } from '../cli/kit.js';
import { shownName } from '../spool/layout.js';
import { columns } from '../util/display.js';
import type { Usage } from '../spool/schema.js';
import { safeJson } from '../util/safe-text.js';
import { allRunSummaries, usageLedger, type LedgerRow } from '../read/usage.js';

const HELP = `
From the summaries under runs/. Each run counts its own share of its session's cumulative usage (see
\`result --help\`); "in" includes "cached", "out" includes reasoning. Sessions and jobs by tokens, most first.
--json: {total,days,sessions,jobs}: each row {key,runs,usage:{input_tokens,cached_input_tokens,output_tokens,reasoning_output_tokens}}`;

export function usageCommand(): Command {
  return withRoot(new Command('usage'))
    .description("tokens used per day, per session and per job, from the runs' summaries")
    .option('-n, --top <n>', 'rows per section', positiveInt('--top'), 10)
    .option('--json', 'print every row as JSON')
    .addHelpText('after', HELP)
    .action(async (opts: { top: number; json?: boolean }, cmd: Command) => {
      const ledger = usageLedger(await allRunSummaries(layoutOf(cmd)));
      if (opts.json) return void output.out(`${safeJson(ledger)}\n`);
      const lines = [`total ${tokens(ledger.total.usage)} in ${ledger.total.runs} runs`];
      for (const [title, rows] of [
        ['day', ledger.days],
        ['session', ledger.sessions],
        ['job', ledger.jobs],
      ] as const) {
        if (!rows.length) continue;
        const shown = rows.slice(0, opts.top).map((r: LedgerRow) => [shownName(r.key), String(r.runs), tokens(r.usage)]);
        lines.push(...columns([[title.toUpperCase(), 'RUNS', 'TOKENS'], ...shown]));
        if (rows.length > opts.top) lines.push(`+${rows.length - opts.top} more`);
      }
      output.out(`${lines.join('\n')}\n`);
    });
}

const tokens = (u: Usage) => `in ${u.input_tokens} (cached ${u.cached_input_tokens}) out ${u.output_tokens}`;
