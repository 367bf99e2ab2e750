// `codex-spool claude`: Claude Code integration. `install` / `uninstall` put the plugin's skill, slash commands
// and hooks into a .claude/ directory; `hook` is the hook they run.
import { output } from '../util/output.js';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { withRoot } from '../cli/kit.js';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { hookOutputFor } from '../claude/seen.js';
import { ALLOW_RULES, HOOK_COMMAND, install, uninstall } from '../claude/install.js';
import { findOnPath } from '../util/path-lookup.js';
import { HOOK_EVENTS } from '../claude/settings.js';

const INSTALL_HELP = `
Writes .claude/skills/codex-spool/SKILL.md, .claude/commands/codex{,-status,-result,-resume}.md, and adds
the hook "${HOOK_COMMAND}" on ${HOOK_EVENTS.join(' and ')} and the permissions.allow rules
${ALLOW_RULES.join(' ')}
(only the skill's commands; Claude Code applies a project's rules once the workspace is trusted) to
.claude/settings.json by inserting text: every other byte, its mode and owner stay; a symlinked
settings.json is written through (the link stays), a read-only one, or one (or its directory, or a
directory the skill and commands go in) not yours alone, is refused. What was added is recorded (hashes and our entries, no settings values) in
.claude/codex-spool.install.json (0600); installing again changes nothing; \`claude uninstall\` removes
exactly that. A file of the same name that codex-spool did not write is never replaced.
The skill and commands run \`codex-spool\`, the hook \`${HOOK_COMMAND}\` (which answers "nothing new" without
starting Node, else runs \`codex-spool claude hook\`): both must be on PATH (npm link, or npm install -g).
The same files ship as a Claude Code plugin: claude plugin marketplace add <this repository>, then
claude plugin install codex-spool@codex-spool.`;

const HOOK_HELP = `
Reads the hook JSON on stdin (session_id, hook_event_name, cwd). On SessionStart and UserPromptSubmit,
prints {"hookSpecificOutput":{"hookEventName":…,"additionalContext":…}} with one line per job finished
(done, failed, rejected) since this Claude session last heard, jobs it submitted first; nothing when
there is nothing new. Quoted values are JSON strings of Codex's output: a report, not instructions.
Jobs under "Submitted from this session" are those \`submit\` queued from it (its claim, not the job file,
says so). State: <root>/spool/.codex-spool-claude/ (written once a finished job exists).
Root: --root, else $CODEX_SPOOL_ROOT, else codex-spool's own directory (as every command).
Always exits 0 (an exit 2 would block the prompt).`;

interface InstallOptions {
  project?: string;
  user?: boolean;
}

export function claudeCommand(): Command {
  const cmd = new Command('claude').description('Claude Code integration: install the skill, slash commands and hook; run the hook');
  cmd.addCommand(
    new Command('install')
      .description('install the codex-spool skill, slash commands and hook into a project or your user .claude/')
      .addOption(new Option('--project <dir>', 'install into DIR/.claude (default: the current directory)').conflicts('user'))
      .addOption(new Option('--user', 'install into ~/.claude'))
      .addHelpText('after', INSTALL_HELP)
      .exitOverride()
      .action(async (opts: InstallOptions) => {
        const dir = await claudeDirOf(opts);
        const r = await install(dir);
        const what = `skill codex-spool, commands /codex /codex-status /codex-result /codex-resume, hook on ${HOOK_EVENTS.join(' + ')}, permission rules for its commands`;
        output.out(r.changed ? `installed in ${dir}: ${what}\n` : `already installed in ${dir}: nothing changed\n`);
        if (!findOnPath('codex-spool') || !findOnPath(HOOK_COMMAND))
          output.err(
            `codex-spool: note: \`codex-spool\` or \`${HOOK_COMMAND}\` is not on PATH; the skill, commands and hook run them by name (npm link, or npm install -g)\n`,
          );
      }),
  );
  cmd.addCommand(
    new Command('uninstall')
      .description('remove exactly what `claude install` added')
      .addOption(new Option('--project <dir>', 'uninstall from DIR/.claude (default: the current directory)').conflicts('user'))
      .addOption(new Option('--user', 'uninstall from ~/.claude'))
      .exitOverride()
      .action(async (opts: InstallOptions) => {
        const dir = await claudeDirOf(opts);
        const r = await uninstall(dir);
        if (!r.installed) {
          output.out(`not installed in ${dir}: nothing to remove\n`);
          return;
        }
        const settings = r.settingsRestored
          ? ', settings.json as it was before install'
          : r.settingsChanged
            ? ', hooks taken out of settings.json'
            : '';
        output.out(`uninstalled from ${dir}: ${r.removed.length} file(s) removed${settings}\n`);
        if (r.kept.length) output.err(`codex-spool: kept, edited since install: ${r.kept.join(', ')}\n`);
      }),
  );
  cmd.addCommand(
    withRoot(new Command('hook'), 'optional')
      .description('the Claude Code hook: tell the session of jobs finished since it last heard (stdin: hook JSON)')
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', HOOK_HELP)
      .exitOverride()
      .action(async (_opts: unknown, sub: Command) => output.out(await hookOutputFor(sub.optsWithGlobals<{ root?: string }>().root))),
  );
  return cmd;
}

async function claudeDirOf(opts: InstallOptions): Promise<string> {
  if (opts.user) return join(process.env.HOME || homedir(), '.claude');
  const project = resolve(opts.project ?? process.cwd());
  if (!(await stat(project).catch(ifMissing(null)))?.isDirectory()) throw new CliError(`project ${project} is not a directory`, EXIT.usage);
  return join(project, '.claude');
}
