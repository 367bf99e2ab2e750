// `codex-spool install-service` / `uninstall-service`: write (or rewrite) the worker's systemd user unit, with
// absolute paths and the worker's own flags, and say how to start it; remove it again.
import { output } from '../util/output.js';
import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command, type Option } from 'commander';
import { writeFileAtomic } from '../spool/atomic-file.js';
import { packageFile } from '../util/package-files.js';
import { layoutOf, withRoot } from '../cli/kit.js';
import { CliError, EXIT, ifMissing } from '../util/errors.js';
import { findOnPath, isExecutableFile } from '../util/path-lookup.js';
import {
  RESTART_LINE,
  SYSTEMCTL_LINE,
  UNIT_NAME,
  renderUnit,
  servicePath,
  stampUnit,
  stopTimeoutSec,
  unitOwner,
  userUnitDir,
} from '../cli/systemd-unit.js';
import { workerCommand } from './worker.js';

interface InstallServiceOptions {
  codexBin?: string;
  graceMs: number;
  force?: boolean;
  unitDir?: string;
  environmentFile?: string;
  json?: boolean;
  [workerOption: string]: unknown;
}

const TEMPLATE = packageFile('systemd/codex-spool.service');
const CLI = packageFile('dist/cli.js');
/** Worker options install-service does not pass on: --root, --codex-bin and --grace-ms have places of their own in the unit. */
const OWN_PLACE = new Set(['--root', '--codex-bin', '--grace-ms']);
/** Worker options a service cannot use. */
const NOT_FOR_A_SERVICE = new Set(['--once']);

export function installServiceCommand(): Command {
  const cmd = withRoot(new Command('install-service'), 'optional')
    .description(
      `write the worker's systemd user unit (${UNIT_NAME}) with absolute paths and the worker flags given; prints the systemctl line that starts it`,
    )
    .option('--force', 'replace a unit that install-service did not write, or that was edited since')
    .option('--unit-dir <dir>', 'where to write the unit (default: ~/.config/systemd/user)')
    // Not --env-file: Node 20 takes that flag for itself wherever it stands on the command line.
    .option('--environment-file <file>', 'EnvironmentFile= of the service: CODEX_HOME, API keys (KEY=value lines)')
    .option('--json', 'print the result as JSON');
  // The worker's own option definitions: a flag the worker takes, the service takes, checked the same way.
  const workerOptions = workerCommand().options.filter((o) => !NOT_FOR_A_SERVICE.has(o.long!) && o.long !== '--root');
  for (const option of workerOptions) cmd.addOption(option);
  return cmd.action(async (opts: InstallServiceOptions, cmd: Command) => {
    const given = cmd.optsWithGlobals<{ root?: string }>().root ?? process.env.CODEX_SPOOL_ROOT;
    if (given !== undefined && !isAbsolute(given)) {
      throw new CliError(`--root must be an absolute path for a service (it does not run in this directory), got "${given}"`, EXIT.usage);
    }
    const root = layoutOf(cmd).root;
    const codexBin = await resolveExecutable(opts.codexBin ?? process.env.CODEX_SPOOL_CODEX_BIN ?? 'codex');
    const envFile = opts.environmentFile === undefined ? null : await regularFile(opts.environmentFile);
    const workerArgs = workerOptions.filter((o) => !OWN_PLACE.has(o.long!)).flatMap((o) => givenArgs(cmd, o));
    const node = process.execPath;
    const cli = await realpath(CLI);
    let unit: string;
    try {
      unit = stampUnit(
        renderUnit(await readFile(TEMPLATE, 'utf8'), {
          node,
          cli,
          root,
          codexBin,
          graceMs: opts.graceMs,
          path: servicePath([dirname(node), dirname(codexBin)]),
          workerArgs,
          envFile,
        }),
      );
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.usage);
    }
    const unitPath = unitPathOf(opts.unitDir);
    const existing = await readUnit(unitPath);
    let status: 'written' | 'replaced' | 'unchanged';
    if (existing === unit) status = 'unchanged';
    else {
      if (existing !== null && unitOwner(existing) === 'foreign' && !opts.force) {
        throw new CliError(`${unitPath} was not written by install-service (or was edited since); pass --force to replace it`);
      }
      await mkdir(dirname(unitPath), { recursive: true });
      await writeFileAtomic(unitPath, unit);
      status = existing === null ? 'written' : 'replaced';
    }
    const next = status === 'replaced' ? RESTART_LINE : SYSTEMCTL_LINE;
    output.out(
      opts.json
        ? `${JSON.stringify({ unit: unitPath, status, root, codex_bin: codexBin, node, cli, worker_args: workerArgs, env_file: envFile, timeout_stop_sec: stopTimeoutSec(opts.graceMs), next })}\n`
        : `${status} ${unitPath}\n${next}\n`,
    );
  });
}

export function uninstallServiceCommand(): Command {
  return new Command('uninstall-service')
    .description(
      `stop and disable the worker's systemd user service (systemctl --user, when there is one) and remove the unit install-service wrote`,
    )
    .option('--force', 'remove the unit even if install-service did not write it, or it was edited since')
    .option('--unit-dir <dir>', 'where the unit is (default: ~/.config/systemd/user)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { force?: boolean; unitDir?: string; json?: boolean }) => {
      const unitPath = unitPathOf(opts.unitDir);
      const existing = await readUnit(unitPath);
      if (existing !== null && unitOwner(existing) === 'foreign' && !opts.force) {
        throw new CliError(`${unitPath} was not written by install-service (or was edited since); pass --force to remove it`);
      }
      const systemd: string[] = [];
      if (existing !== null) {
        systemd.push(await systemctl(['disable', '--now', UNIT_NAME]));
        await rm(unitPath, { force: true });
        systemd.push(await systemctl(['daemon-reload']));
      }
      const status = existing === null ? 'absent' : 'removed';
      output.out(opts.json ? `${JSON.stringify({ unit: unitPath, status, systemctl: systemd })}\n` : `${status} ${unitPath}\n`);
    });
}

/** The command-line words of worker option `o` if it was given to this command (its value as parsed), else none. */
function givenArgs(cmd: Command, o: Option): string[] {
  const key = o.attributeName();
  if (cmd.getOptionValueSource(key) !== 'cli') return [];
  const value: unknown = cmd.getOptionValue(key);
  return value === true ? [o.long!] : [o.long!, String(value)];
}

/** `systemctl --user ARGS`: what it said (a service may not be loaded, or no user manager run); never fatal. */
async function systemctl(args: string[]): Promise<string> {
  const line = `systemctl --user ${args.join(' ')}`;
  try {
    await promisify(execFile)('systemctl', ['--user', ...args], { timeout: 30_000 });
    return `${line}: ok`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'no systemctl' : (e.stderr?.trim().split('\n')[0] ?? e.message);
    output.err(`codex-spool: ${line}: ${why}\n`);
    return `${line}: ${why}`;
  }
}

function unitPathOf(unitDir: string | undefined): string {
  return join(unitDir ? resolve(unitDir) : userUnitDir(), UNIT_NAME);
}

async function readUnit(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
}

/** The absolute path of an existing regular file, or a usage error. */
async function regularFile(name: string): Promise<string> {
  const path = resolve(name);
  if (!(await stat(path).catch(ifMissing(null)))?.isFile()) throw new CliError(`--environment-file ${path} is not a file`, EXIT.usage);
  return path;
}

/** An absolute path to an executable file: `name` itself if it has a `/`, else the first match on PATH. */
async function resolveExecutable(name: string): Promise<string> {
  if (name.includes('/')) {
    const path = resolve(name);
    if (!isExecutableFile(path)) throw new CliError(`Codex binary ${path} is not an executable file`, EXIT.usage);
    return path;
  }
  const found = findOnPath(name);
  if (found) return found;
  throw new CliError(`Codex binary "${name}" not found on PATH; pass --codex-bin /abs/path/to/codex`, EXIT.usage);
}
