// `codex-spool install-service`: write the worker's systemd user unit, with absolute paths, and say how to start it.
import { constants } from 'node:fs';
import { access, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../atomic-file.js';
import { packageFile } from '../package-files.js';
import { CliError, EXIT, layoutOf, positiveInt, withRoot } from '../cli-kit.js';
import { SYSTEMCTL_LINE, UNIT_NAME, renderUnit, servicePath, stopTimeoutSec, userUnitDir } from '../systemd-unit.js';

interface InstallServiceOptions {
  codexBin?: string;
  force?: boolean;
  unitDir?: string;
  graceMs: number;
  json?: boolean;
}

const TEMPLATE = packageFile('systemd/codex-spool.service');
const CLI = packageFile('dist/cli.js');

export function installServiceCommand(): Command {
  return withRoot(new Command('install-service'), 'optional')
    .description(`write the worker's systemd user unit (${UNIT_NAME}) with absolute paths; prints the systemctl line that starts it`)
    .option('--codex-bin <path>', 'Codex binary, a path or a name looked up on PATH (default: $CODEX_SPOOL_CODEX_BIN or codex)')
    .option('--force', 'replace an existing unit that differs')
    .option('--unit-dir <dir>', 'where to write the unit (default: ~/.config/systemd/user)')
    .option('--grace-ms <ms>', "the worker's --grace-ms; the unit's stop timeout covers 2 × grace", positiveInt('--grace-ms'), 10_000)
    .option('--json', 'print the result as JSON')
    .action(async (opts: InstallServiceOptions, cmd: Command) => {
      const root = layoutOf(cmd).root;
      const codexBin = await resolveExecutable(opts.codexBin ?? process.env.CODEX_SPOOL_CODEX_BIN ?? 'codex');
      const node = process.execPath;
      const cli = await realpath(CLI);
      let unit: string;
      try {
        unit = renderUnit(await readFile(TEMPLATE, 'utf8'), {
          node,
          cli,
          root,
          codexBin,
          graceMs: opts.graceMs,
          path: servicePath([dirname(node), dirname(codexBin)]),
        });
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage);
      }
      const unitPath = join(opts.unitDir ? resolve(opts.unitDir) : userUnitDir(), UNIT_NAME);
      const existing = await readFile(unitPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      let status: 'written' | 'replaced' | 'unchanged';
      if (existing === unit) status = 'unchanged';
      else if (existing !== null && !opts.force) {
        throw new CliError(`${unitPath} exists and differs from the unit for this setup; pass --force to replace it`);
      } else {
        await mkdir(dirname(unitPath), { recursive: true });
        await writeFileAtomic(unitPath, unit);
        status = existing === null ? 'written' : 'replaced';
      }
      process.stdout.write(
        opts.json
          ? `${JSON.stringify({ unit: unitPath, status, root, codex_bin: codexBin, node, cli, timeout_stop_sec: stopTimeoutSec(opts.graceMs), next: SYSTEMCTL_LINE })}\n`
          : `${status} ${unitPath}\n${SYSTEMCTL_LINE}\n`,
      );
    });
}

/** An absolute path to an executable file: `name` itself if it has a `/`, else the first match on PATH. */
async function resolveExecutable(name: string): Promise<string> {
  if (name.includes('/')) {
    const path = resolve(name);
    if (!(await isExecutableFile(path))) throw new CliError(`Codex binary ${path} is not an executable file`, EXIT.usage);
    return path;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = resolve(dir, name);
    if (await isExecutableFile(path)) return path;
  }
  throw new CliError(`Codex binary "${name}" not found on PATH; pass --codex-bin /abs/path/to/codex`, EXIT.usage);
}

async function isExecutableFile(path: string): Promise<boolean> {
  if (!(await stat(path).catch(() => null))?.isFile()) return false;
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
