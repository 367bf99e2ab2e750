// `codex-spool doctor`: can jobs submitted to this root run? One line per check; exit 1 if one fails.
import { output } from '../util/output.js';
import { readFileSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { execa } from 'execa';
import { rootOf, withRoot } from '../cli/kit.js';
import { CliError, ifMissing } from '../util/errors.js';
import { HOOK_COMMAND, OLD_HOOK_COMMAND } from '../claude/install.js';
import { findOnPath } from '../util/path-lookup.js';
import { hasOurHooks } from '../claude/settings.js';
import { codexDoctor, codexVerdicts } from '../doctor/codex.js';
import { codexVersion } from '../codex/runner.js';
import { claudeHookCheck, formatChecks, inotifyCheck, parseShow, policyCheck, serviceCheck, type Check } from '../doctor/checks.js';
import { loadPolicy } from '../spool/policy.js';
import { packageFile } from '../util/package-files.js';
import { safeJson } from '../util/safe-text.js';
import { hasSpool, resolveRootWithSource, spoolLayout, unsafeSpoolDirs, type SpoolLayout } from '../spool/layout.js';
import { UNIT_NAME, userUnitDir } from '../cli/systemd-unit.js';
import { liveWorkers, startWorkerHint, workersLine } from '../worker/heartbeat.js';

interface DoctorOptions {
  codexBin?: string;
  json?: boolean;
}

const HELP = `
Checks, one line each (ok, warn, FAIL): the spool of the root and its permissions; its job policy
(codex-spool.config.json); the live workers;
Codex found and its version; what \`codex doctor\` says of its credentials, config and model provider;
inotify limits; the systemd user unit, if installed; the Claude Code hook, if installed, and the root it
reads. Exit 0 unless a check FAILs (jobs could not run): then 1. Warnings do not fail.
--json: {"ok":bool,"root":…,"root_from":"--root"|"$CODEX_SPOOL_ROOT"|"package","checks":[{name,status,summary}]}`;

export function doctorCommand(): Command {
  return withRoot(new Command('doctor'), 'optional')
    .description('check that jobs submitted to this root can run: spool, worker, Codex and its login, service, Claude hook')
    .option('--codex-bin <path>', "the Codex the worker runs (default: $CODEX_SPOOL_CODEX_BIN, else codex on PATH, else the package's own)")
    .option('--json', 'print one JSON document')
    .addHelpText('after', HELP)
    .action(async (opts: DoctorOptions, cmd: Command) => {
      const { root, source } = rootOf(cmd);
      const layout = spoolLayout(root);
      const [spool, policy, workers, codex, hook, service] = await Promise.all([
        spoolCheck(layout),
        loadPolicy(root).then(
          (p) => policyCheck(p, null),
          (err: Error) => policyCheck(null, err.message),
        ),
        workersCheck(layout),
        codexChecks(opts.codexBin ?? process.env.CODEX_SPOOL_CODEX_BIN),
        claudeHook(root),
        serviceState(root),
      ]);
      const checks = [spool, policy, workers, ...codex, inotify(), service, hook];
      const ok = checks.every((c) => c.status !== 'fail');
      output.out(opts.json ? `${safeJson({ ok, root, root_from: source, checks })}\n` : formatChecks(checks));
      if (!ok) throw new CliError(`doctor: ${checks.filter((c) => c.status === 'fail').length} check(s) failed`);
    });
}

async function spoolCheck(layout: SpoolLayout): Promise<Check> {
  const name = 'spool';
  if (!(await hasSpool(layout))) {
    return {
      name,
      status: 'fail',
      summary: `no spool at ${layout.root}: start a worker there (${startWorkerHint(layout.root)})`,
    };
  }
  const unsafe = await unsafeSpoolDirs(layout);
  if (unsafe.length)
    return { name, status: 'fail', summary: `${unsafe.join('; ')}: the worker refuses it (fix the permissions, or --allow-shared-spool)` };
  return { name, status: 'ok', summary: `${layout.root}/spool, private to you` };
}

async function workersCheck(layout: SpoolLayout): Promise<Check> {
  const workers = await liveWorkers(layout);
  const line = workersLine(workers, layout.root, Date.now());
  return workers.length
    ? { name: 'workers', status: 'ok', summary: line }
    : { name: 'workers', status: 'warn', summary: `${line}: jobs wait until one starts` };
}

/** Codex and its own doctor's verdicts. Unless named, the Codex on PATH, else the package's (what `npm start` puts on PATH). */
async function codexChecks(named: string | undefined): Promise<Check[]> {
  const candidates = named ? [named] : ['codex', packageFile('node_modules/.bin/codex')];
  for (const bin of candidates) {
    const version = await codexVersion(bin).catch(() => null); // doctor reports, never throws: not usable
    if (version === null) continue;
    const found: Check = { name: 'codex', status: 'ok', summary: `${version} (${bin})` };
    return [found, ...codexVerdicts(await codexDoctor(bin))];
  }
  return [
    {
      name: 'codex',
      status: 'fail',
      summary: `cannot run "${candidates[0]} --version": install Codex, or pass --codex-bin / set CODEX_SPOOL_CODEX_BIN`,
    },
  ];
}

function inotify(): Check {
  const read = (name: string) => {
    try {
      return Number(readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8').trim());
    } catch {
      return null;
    }
  };
  return inotifyCheck(read('max_user_watches'), read('max_user_instances'));
}

async function serviceState(root: string): Promise<Check> {
  const unit = join(userUnitDir(), UNIT_NAME);
  if (!(await stat(unit).catch(ifMissing(null)))) return serviceCheck(null, null, root);
  const r = await execa('systemctl', ['--user', 'show', UNIT_NAME, '-p', 'ActiveState', '-p', 'UnitFileState', '-p', 'Environment'], {
    reject: false,
    stdin: 'ignore',
    timeout: 5_000,
  });
  return serviceCheck(unit, r.exitCode === 0 ? parseShow(String(r.stdout)) : null, root);
}

/**
 * The hook `claude install` adds, in the user's or this directory's .claude/settings.json. It runs
 * `codex-spool-hook` (an older install: `codex-spool claude hook`) from PATH, which reads $CODEX_SPOOL_ROOT,
 * else its own package's directory.
 */
async function claudeHook(root: string): Promise<Check> {
  const places = [join(process.env.HOME || homedir(), '.claude'), join(process.cwd(), '.claude')];
  const installedIn: string[] = [];
  let program = HOOK_COMMAND;
  for (const dir of new Set(places)) {
    const text = await readFile(join(dir, 'settings.json'), 'utf8').catch(() => null); // unreadable: no hook of ours runs from it
    try {
      const command = text === null ? undefined : [HOOK_COMMAND, OLD_HOOK_COMMAND].find((c) => hasOurHooks(text, c));
      if (command) {
        installedIn.push(dir);
        program = command.split(' ')[0]!;
      }
    } catch {
      // settings.json that is not JSON: Claude Code runs no hook from it either
    }
  }
  const onPath = findOnPath(program);
  const bin = onPath && (await realpath(onPath).catch(() => null)); // …/dist/codex-spool-hook or cli.js, through npm's links
  // The hook runs with no --root: $CODEX_SPOOL_ROOT if Claude's environment has it (as doctor's has, we assume), else that package's.
  const fromEnv = resolveRootWithSource();
  const hookRoot = !bin ? null : fromEnv.source === '$CODEX_SPOOL_ROOT' ? fromEnv.root : dirname(dirname(bin));
  return claudeHookCheck(installedIn, hookRoot, root);
}
