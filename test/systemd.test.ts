// `codex-spool install-service` run as a real process with a temporary HOME; the unit it writes is checked
// field by field and validated by systemd itself (`systemd-analyze verify`, offline, in user mode).
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RESTART_LINE, SYSTEMCTL_LINE, renderUnit, stopTimeoutSec } from '../src/cli/systemd-unit.js';
import { cliPath, fakeCodex, projectRoot } from './helpers/spool-env.js';

let dir: string;
let home: string;
let runtimeDir: string;
let unitPath: string;

beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'codex-spool-systemd-')));
  home = join(dir, 'home');
  runtimeDir = join(dir, 'runtime');
  await mkdir(home);
  await mkdir(runtimeDir, { mode: 0o700 });
  unitPath = join(home, '.config', 'systemd', 'user', 'codex-spool.service');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Runs `codex-spool install-service` with only the environment given (never the user's HOME or XDG dirs). */
async function installService(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  const r = await execa(process.execPath, [cliPath, 'install-service', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...opts.env },
    extendEnv: false,
    cwd: opts.cwd ?? dir,
    reject: false,
    stdin: 'ignore',
  });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** systemd-analyze on PATH, or a failure telling how to get it: this test must not pass without it. */
async function systemdAnalyze(): Promise<string> {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin']) {
    const path = join(d || '.', 'systemd-analyze');
    if ((await stat(path).catch(() => null))?.isFile()) return path;
  }
  throw new Error('systemd-analyze not found: install it (Debian: apt-get install -y systemd); .ci/run does');
}

/**
 * `systemd-analyze verify --user` on a unit file, offline: no systemd needs to run, only a private
 * XDG_RUNTIME_DIR. It parses every setting (unknown keys, bad values, bad quoting or specifiers are
 * reported) and checks that the ExecStart program exists and is executable. It exits 0 on mere
 * warnings, so a clean unit is exit 0 *and* no output.
 */
async function verify(path: string) {
  const r = await execa(await systemdAnalyze(), ['verify', '--user', '--man=false', path], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_COLORS: '0' },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
  });
  return { code: r.exitCode, output: String(r.all).trim() };
}

/** The settings of one section of a unit, in order (repeated keys kept). */
function settings(unit: string, section: string): [string, string][] {
  let current = '';
  const out: [string, string][] = [];
  for (const line of unit.split('\n')) {
    if (/^\[.*\]$/.test(line)) current = line.slice(1, -1);
    else if (current === section && line && !line.startsWith('#')) {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}
const setting = (unit: string, section: string, key: string) =>
  settings(unit, section)
    .filter(([k]) => k === key)
    .map(([, v]) => v);

/** Splits a systemd command line or Environment= value into words the way systemd reads them ("…", \", %%, $$). */
function words(value: string, exec: boolean): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    let w = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    // A lone % starts a specifier (%h, %i, …) that systemd would replace: none may be left in a path.
    w = w.replace(/%(.?)/g, (all, c: string) => {
      if (c !== '%') throw new Error(`unescaped specifier "${all}" in ${value}`);
      return '%';
    });
    // In a command line's arguments $NAME and ${NAME} are expanded (not in the program): a literal $ is $$.
    if (exec && out.length > 0) {
      w = w.replace(/\$(\$|[A-Za-z_{])?/g, (all, c: string | undefined) => {
        if (c !== undefined && c !== '$') throw new Error(`unescaped variable "${all}" in ${value}`);
        return '$';
      });
    }
    out.push(w);
  }
  return out;
}

describe('install-service', () => {
  it('writes the unit with absolute paths to ~/.config/systemd/user, prints the systemctl line, and systemd accepts it', async () => {
    const root = join(dir, 'spool root 100% $HOME');
    const r = await installService(['--root', root, '--codex-bin', fakeCodex]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([`written ${unitPath}`, SYSTEMCTL_LINE]); // execa drops the final newline
    expect(SYSTEMCTL_LINE).toBe('systemctl --user daemon-reload && systemctl --user enable --now codex-spool');

    const unit = await readFile(unitPath, 'utf8');
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    expect(setting(unit, 'Service', 'Type')).toEqual(['simple']);
    const exec = setting(unit, 'Service', 'ExecStart');
    expect(exec).toHaveLength(1);
    expect(words(exec[0]!, true)).toEqual([process.execPath, await realpath(cliPath), 'worker', '--root', root, '--grace-ms', '10000']);
    const env = setting(unit, 'Service', 'Environment').flatMap((v) => words(v, false));
    expect(env).toContain(`CODEX_SPOOL_ROOT=${root}`);
    expect(env).toContain(`CODEX_SPOOL_CODEX_BIN=${fakeCodex}`);
    const path = env
      .find((e) => e.startsWith('PATH='))!
      .slice('PATH='.length)
      .split(':');
    expect(path).toContain(join(process.execPath, '..'));
    expect(path.every((d) => d.startsWith('/'))).toBe(true);
    expect(setting(unit, 'Service', 'Restart')).toEqual(['on-failure']);
    expect(Number(setting(unit, 'Service', 'RestartSec')[0])).toBeGreaterThan(0);
    expect(setting(unit, 'Service', 'KillSignal')).toEqual(['SIGTERM']);
    expect(setting(unit, 'Service', 'KillMode')).toEqual(['mixed']);
    // The worker's stop: SIGINT, grace, SIGTERM, grace, SIGKILL. systemd must wait longer than that.
    const stopSec = Number(setting(unit, 'Service', 'TimeoutStopSec')[0]);
    expect(stopSec).toBe(stopTimeoutSec(10_000));
    expect(stopSec).toBeGreaterThan((2 * 10_000) / 1000);
    expect(setting(unit, 'Install', 'WantedBy')).toEqual(['default.target']);

    expect(await verify(unitPath)).toEqual({ code: 0, output: '' });
  });

  it("the unit's comments name only flags that exist (they said --env-file for --environment-file)", async () => {
    expect((await installService(['--root', join(dir, 'r'), '--codex-bin', fakeCodex])).code).toBe(0);
    const comments = (await readFile(unitPath, 'utf8')).split('\n').filter((l) => l.startsWith('#'));
    const named = [...comments.join('\n').matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]);
    expect(named).toContain('--environment-file');
    const help = (await installService(['--help'])).stdout;
    for (const flag of named) expect(help, flag).toMatch(new RegExp(`^ +(-\\w, )?${flag}\\b`, 'm'));
  });

  it('--grace-ms goes to the worker and stretches TimeoutStopSec', async () => {
    expect((await installService(['--root', dir, '--codex-bin', fakeCodex, '--grace-ms', '45000'])).code).toBe(0);
    const unit = await readFile(unitPath, 'utf8');
    expect(words(setting(unit, 'Service', 'ExecStart')[0]!, true).slice(-2)).toEqual(['--grace-ms', '45000']);
    expect(Number(setting(unit, 'Service', 'TimeoutStopSec')[0])).toBeGreaterThan(90);
    expect(await verify(unitPath)).toEqual({ code: 0, output: '' });
  });

  it('refuses to replace a different unit without --force; an identical one is left as it is', async () => {
    const args = ['--root', join(dir, 'root'), '--codex-bin', fakeCodex];
    expect((await installService(args)).code).toBe(0);
    const original = await readFile(unitPath, 'utf8');
    const before = await stat(unitPath);

    const again = await installService(args);
    expect(again.code).toBe(0);
    expect(again.stdout.split('\n')[0]).toBe(`unchanged ${unitPath}`);
    expect(again.stdout).toContain(SYSTEMCTL_LINE);
    const after = await stat(unitPath);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]); // not even rewritten

    const edited = `${original}# a local edit\n`;
    await writeFile(unitPath, edited);
    const refused = await installService(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/was not written by install-service \(or was edited since\); pass --force/);
    expect(refused.stdout).toBe('');
    expect(await readFile(unitPath, 'utf8')).toBe(edited);

    const otherRoot = await installService(['--root', join(dir, 'other'), '--codex-bin', fakeCodex]);
    expect(otherRoot.code).toBe(1);
    expect(await readFile(unitPath, 'utf8')).toBe(edited);

    const forced = await installService([...args, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout.split('\n')[0]).toBe(`replaced ${unitPath}`);
    expect(await readFile(unitPath, 'utf8')).toBe(original);

    // A unit of someone else's, with no marker, is not replaced either.
    await writeFile(unitPath, original.split('\n').slice(1).join('\n'));
    expect((await installService(args)).code).toBe(1);
  });

  it("takes the worker's own flags (checked as the worker checks them) and an --environment-file; rewrites its own unit with new flags", async () => {
    const root = join(dir, 'root');
    const envFile = join(dir, 'codex.env');
    await writeFile(envFile, `CODEX_HOME=${join(dir, 'codex-home')}\nOPENAI_API_KEY=sk-test\n`);
    const first = await installService([
      '--root',
      root,
      '--codex-bin',
      fakeCodex,
      '--concurrency',
      '3',
      '--on-done',
      'notify "$CODEX_SPOOL_JOB_ID"',
      '--poll',
      '--environment-file',
      envFile,
    ]);
    expect([first.code, first.stderr]).toEqual([0, '']);
    let unit = await readFile(unitPath, 'utf8');
    expect(words(setting(unit, 'Service', 'ExecStart')[0]!, true).slice(2)).toEqual([
      'worker',
      '--root',
      root,
      '--grace-ms',
      '10000',
      '--concurrency',
      '3',
      '--poll',
      '--on-done',
      'notify "$CODEX_SPOOL_JOB_ID"',
    ]);
    expect(setting(unit, 'Service', 'EnvironmentFile')).toEqual([envFile]);
    expect(await verify(unitPath)).toEqual({ code: 0, output: '' });

    // Asked again with other flags: its own unit is rewritten without --force; the running worker needs a restart.
    const second = await installService([
      '--root',
      root,
      '--codex-bin',
      fakeCodex,
      '--concurrency',
      '5',
      '--stall-timeout',
      '15m',
      '--grace-ms',
      '20s',
    ]);
    expect([second.code, second.stdout]).toEqual([0, `replaced ${unitPath}\n${RESTART_LINE}`]);
    unit = await readFile(unitPath, 'utf8');
    expect(words(setting(unit, 'Service', 'ExecStart')[0]!, true).slice(5)).toEqual([
      '--grace-ms',
      '20000',
      '--concurrency',
      '5',
      '--stall-timeout',
      '900',
    ]);
    expect(setting(unit, 'Service', 'TimeoutStopSec')).toEqual([String(stopTimeoutSec(20_000))]);
    expect(setting(unit, 'Service', 'EnvironmentFile')).toEqual([]);

    // The worker's checks, the worker's messages; nothing written.
    const bad = [
      [['--concurrency', '0'], '--concurrency must be a positive integer, got "0"'],
      [['--once'], "error: unknown option '--once'"],
      [['--environment-file', join(dir, 'nope.env')], `--environment-file ${join(dir, 'nope.env')} is not a file`],
      [
        ['--root', 'relative/root'],
        '--root must be an absolute path for a service (it does not run in this directory), got "relative/root"',
      ],
    ] as const;
    for (const [extra, message] of bad) {
      const r = await installService(['--root', root, '--codex-bin', fakeCodex, ...extra]);
      expect([r.code, r.stderr.replace(/^codex-spool: /, '').split('\n')[0]]).toEqual([2, message]);
    }
    const relEnv = await installService(['--codex-bin', fakeCodex], { env: { CODEX_SPOOL_ROOT: 'rel' } });
    expect(relEnv.code).toBe(2);
    expect(await readFile(unitPath, 'utf8')).toBe(unit);
  });

  it("finds a bare codex name on PATH; root from $CODEX_SPOOL_ROOT, else the package's directory; --unit-dir; --json", async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    await copyFile(fakeCodex, join(bin, 'codex'));
    await chmod(join(bin, 'codex'), 0o755);
    await writeFile(join(bin, 'not-executable'), '#!/bin/sh\n');
    const work = join(dir, 'work');
    await mkdir(work);
    const PATH = `${join(dir, 'empty')}${delimiter}${bin}${delimiter}${process.env.PATH}`;
    const units = join(dir, 'units');

    const fromCwd = await installService(['--unit-dir', units, '--json'], { env: { PATH }, cwd: work });
    expect(fromCwd.code).toBe(0);
    const out = JSON.parse(fromCwd.stdout);
    expect(out).toMatchObject({
      unit: join(units, 'codex-spool.service'),
      status: 'written',
      root: projectRoot,
      codex_bin: join(bin, 'codex'),
      next: SYSTEMCTL_LINE,
    });
    const unit = await readFile(out.unit, 'utf8');
    expect(setting(unit, 'Service', 'Environment').flatMap((v) => words(v, false))).toContain(
      `CODEX_SPOOL_CODEX_BIN=${join(bin, 'codex')}`,
    );
    expect(await verify(out.unit)).toEqual({ code: 0, output: '' });

    const fromEnv = await installService(['--unit-dir', join(dir, 'units2'), '--json', '--codex-bin', 'codex'], {
      env: { PATH, CODEX_SPOOL_ROOT: join(dir, 'env-root') },
      cwd: work,
    });
    expect(fromEnv.code).toBe(0);
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ root: join(dir, 'env-root'), codex_bin: join(bin, 'codex') });

    const missing = await installService(['--codex-bin', 'no-such-codex-here'], { env: { PATH } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/"no-such-codex-here" not found on PATH/);
    const notExec = await installService(['--codex-bin', join(bin, 'not-executable')], { env: { PATH } });
    expect(notExec.code).toBe(2);
    expect(notExec.stderr).toMatch(/not an executable file/);
    // Nothing was written by the failures.
    expect(await stat(unitPath).catch(() => null)).toBeNull();
  });
});

describe('uninstall-service', () => {
  it('stops and disables the service through systemctl --user, removes its own unit; a foreign one only with --force', async () => {
    // A stand-in systemctl that logs its arguments: the test never reaches a real user manager.
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const log = join(dir, 'systemctl.log');
    await writeFile(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> ${log}\n`, { mode: 0o755 });
    const env = { PATH: `${bin}${delimiter}${process.env.PATH}`, XDG_RUNTIME_DIR: runtimeDir };
    const uninstall = (args: string[] = []) =>
      execa(process.execPath, [cliPath, 'uninstall-service', ...args], {
        env: { HOME: home, ...env },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });

    expect((await installService(['--root', join(dir, 'root'), '--codex-bin', fakeCodex])).code).toBe(0);
    const removed = await uninstall();
    expect([removed.exitCode, removed.stdout, removed.stderr]).toEqual([0, `removed ${unitPath}`, '']);
    expect(await stat(unitPath).catch(() => null)).toBeNull();
    expect((await readFile(log, 'utf8')).split('\n')).toEqual(['--user disable --now codex-spool.service', '--user daemon-reload', '']);
    const again = await uninstall(['--json']);
    expect([again.exitCode, JSON.parse(String(again.stdout))]).toEqual([0, { unit: unitPath, status: 'absent', systemctl: [] }]);

    await mkdir(dirname(unitPath), { recursive: true });
    await writeFile(unitPath, '[Service]\nExecStart=/bin/true\n');
    const refused = await uninstall();
    expect([refused.exitCode, String(refused.stderr)]).toEqual([
      1,
      `codex-spool: ${unitPath} was not written by install-service (or was edited since); pass --force to remove it`,
    ]);
    expect(await readFile(unitPath, 'utf8')).toBe('[Service]\nExecStart=/bin/true\n');
    expect((await uninstall(['--force'])).exitCode).toBe(0);
    expect(await stat(unitPath).catch(() => null)).toBeNull();
  });

  it('without systemctl the unit is still removed, with one line saying so', async () => {
    expect((await installService(['--root', join(dir, 'root'), '--codex-bin', fakeCodex])).code).toBe(0);
    const r = await execa(process.execPath, [cliPath, 'uninstall-service'], {
      env: { HOME: home, PATH: join(dir, 'empty') },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    expect([r.exitCode, r.stdout]).toEqual([0, `removed ${unitPath}`]);
    expect(String(r.stderr).split('\n')).toEqual([
      'codex-spool: systemctl --user disable --now codex-spool.service: no systemctl',
      'codex-spool: systemctl --user daemon-reload: no systemctl',
    ]);
    expect(await stat(unitPath).catch(() => null)).toBeNull();
  });
});

describe('the unit as systemd reads it', () => {
  it('systemd-analyze verify reports a missing program and a bad setting (so a clean result means something)', async () => {
    expect((await installService(['--root', dir, '--codex-bin', fakeCodex])).code).toBe(0);
    const unit = await readFile(unitPath, 'utf8');
    const missing = join(dir, 'missing.service');
    await writeFile(missing, unit.replace(/^ExecStart="[^"]*"/m, `ExecStart="${join(dir, 'no-node')}"`));
    const r1 = await verify(missing);
    expect(r1.code).not.toBe(0);
    expect(r1.output).toMatch(/no-node is not executable/);
    const bad = join(dir, 'bad.service');
    await writeFile(bad, unit.replace('KillMode=mixed', 'KillMode=mixed\nKillMod=mixed\nRestart=sometimes'));
    const r2 = await verify(bad);
    expect(r2.output).toMatch(/Unknown key 'KillMod'/);
    expect(r2.output).toMatch(/restart/i);
  });

  it('paths with spaces, %, $ and quotes are escaped so that systemd finds the very same program and files', async () => {
    const odd = join(dir, 'node dir 100%z $USER'); // %z: not a specifier, systemd fails on it unless escaped
    await mkdir(odd);
    await symlink(process.execPath, join(odd, 'node'));
    const template = await readFile(join(projectRoot, 'systemd', 'codex-spool.service'), 'utf8');
    const values = {
      node: join(odd, 'node'),
      cli: join(dir, 'cli "quoted" \\ 50%.js'),
      root: join(dir, 'root $HOME %h'),
      codexBin: join(dir, 'codex \'x\' "y" %i'),
      graceMs: 2500,
      path: [odd, '/usr/bin'],
      workerArgs: ['--on-done', 'echo "$CODEX_SPOOL_JOB_ID" 100% \\ done'],
      envFile: join(dir, 'env 100%'),
    };
    await writeFile(values.envFile, 'CODEX_HOME=/x\n');
    const unit = renderUnit(template, values);
    const file = join(dir, 'odd.service');
    await writeFile(file, unit);
    expect(await verify(file)).toEqual({ code: 0, output: '' }); // the program resolved to the symlink: quoting and %% right
    expect(words(setting(unit, 'Service', 'ExecStart')[0]!, true)).toEqual([
      values.node,
      values.cli,
      'worker',
      '--root',
      values.root,
      '--grace-ms',
      '2500',
      ...values.workerArgs,
    ]);
    expect(setting(unit, 'Service', 'EnvironmentFile')).toEqual([values.envFile.replace('%', '%%')]);
    const env = setting(unit, 'Service', 'Environment').flatMap((v) => words(v, false));
    expect(env).toContain(`CODEX_SPOOL_ROOT=${values.root}`);
    expect(env).toContain(`CODEX_SPOOL_CODEX_BIN=${values.codexBin}`);
    expect(setting(unit, 'Service', 'TimeoutStopSec')).toEqual([String(stopTimeoutSec(2500))]);
    expect(stopTimeoutSec(2500)).toBeGreaterThanOrEqual(5);

    // What systemd cannot take is refused rather than written wrong.
    expect(() => renderUnit(template, { ...values, node: join(dir, 'a"b', 'node') })).toThrow(/quote or backslash/);
    expect(() => renderUnit(template, { ...values, root: join(dir, 'a\nb') })).toThrow(/control character/);
    expect(() => renderUnit(template, { ...values, root: 'relative/root' })).toThrow(/absolute/);
    expect(() => renderUnit(`${template}X=@NOPE@\n`, values)).toThrow(/@NOPE@/);
  });
});
