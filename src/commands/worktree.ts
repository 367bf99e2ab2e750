// `codex-spool worktree`: the worktrees of worktree jobs (spool/worktrees/<id>, branch codex-spool/<id>):
// list them, fast-forward the base branch to one, remove one.
import { output } from '../util/output.js';
import { Command } from 'commander';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT } from '../util/errors.js';
import { columns } from '../util/display.js';
import { keepReason, mergeWorktree, removeWorktree, worktreeIds, worktreeState } from '../codex/worktree.js';
import { lookupJob, parseJobIdArg } from '../spool/lookup.js';
import { safeJson, safeLine } from '../util/safe-text.js';
import { LIVE_STATES, type SpoolLayout, shownName } from '../spool/layout.js';

const HELP = `
list: one line each: job id, its job's state, branch, what removing it would lose ("clean" if nothing).
remove ID: removes the worktree and its branch; kept (exit 1, saying why) when it has uncommitted
  changes or commits its base branch lacks, unless --force. Refused while the job is queued or running.
merge ID: fast-forwards the branch checked out in the main repo to the job's branch (git merge --ff-only);
  refuses (exit 1, saying why) uncommitted changes, an empty branch, or a base that moved on.
A worktree whose directory was removed by hand: remove and merge (and prune) act on its branch.
--json (list): [{id,state,path,branch,repo,base,dirty,unmerged}]`;

export function worktreeCommand(): Command {
  const cmd = new Command('worktree').description('list, merge or remove the worktrees of worktree jobs').addHelpText('after', HELP);
  cmd.addCommand(
    withRoot(new Command('list'))
      .exitOverride()
      .description('the worktrees of this spool')
      .option('--json', 'print JSON')
      .action(async (opts: { json?: boolean }, sub: Command) => {
        const layout = layoutOf(sub);
        const states = [];
        for (const id of await worktreeIds(layout)) {
          const s = await worktreeState(layout, id);
          if (s) states.push({ ...s, state: (await lookupJob(layout, id))?.state ?? 'pruned' });
        }
        if (opts.json) return void output.out(`${safeJson(states)}\n`);
        const rows = states.map((s) => [shownName(s.id), s.state, safeLine(s.branch), keepReason(s) ?? 'clean']);
        output.out(rows.length ? `${columns(rows).join('\n')}\n` : 'no worktrees\n');
      }),
  );
  cmd.addCommand(
    withRoot(new Command('remove'))
      .exitOverride()
      .description("remove job ID's worktree and branch")
      .argument('<id>', 'job id')
      .option('--force', 'also when it has uncommitted changes or unmerged commits')
      .action(async (arg: string, opts: { force?: boolean }, sub: Command) => {
        const layout = layoutOf(sub);
        const { id, repo } = await idWithWorktree(layout, arg);
        const live = await lookupJob(layout, id, LIVE_STATES);
        if (live) throw new CliError(`${id} is in spool/${live.state}: its worktree is in use`, EXIT.failed);
        const kept = await removeWorktree(layout, id, Boolean(opts.force), repo);
        if (kept) throw new CliError(`kept the worktree of ${id}: ${kept} (--force to remove it anyway)`, EXIT.failed);
        output.out(`${id} worktree removed\n`);
      }),
  );
  cmd.addCommand(
    withRoot(new Command('merge'))
      .exitOverride()
      .description("fast-forward the main repo's branch to job ID's branch")
      .argument('<id>', 'job id')
      .action(async (arg: string, _opts: unknown, sub: Command) => {
        const layout = layoutOf(sub);
        const { id, repo } = await idWithWorktree(layout, arg);
        const refused = await mergeWorktree(layout, id, repo);
        if (refused) throw new CliError(refused, EXIT.failed);
        output.out(`${id} merged\n`);
      }),
  );
  return cmd;
}

/** A job id argument whose job has a worktree (or its branch, the directory gone), and the job's repo: else exit 3. */
async function idWithWorktree(layout: SpoolLayout, arg: string): Promise<{ id: string; repo: string | null }> {
  const id = parseJobIdArg(arg);
  const record = (await lookupJob(layout, id))?.record;
  const repo = record?.worktree ? (record.repo ?? null) : null;
  if (!(await worktreeState(layout, id, repo))) throw new CliError(`no worktree for job ${id}`, EXIT.notFound);
  return { id, repo };
}
