// A second "host" on this machine: an sshd of the test's own on 127.0.0.1 (its own config, throwaway host
// and user keys, a free port) and sshfs mounts of a local directory through it, so that a worker on the
// mount sees the spool only through the SFTP protocol, with sshfs's and the kernel's attribute caches.
// Nothing of the system's ssh configuration is read or touched (only /run/sshd, sshd's fixed privilege
// separation directory, is created if missing).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cliPath, waitFor, workerProcess, type TempRoot } from './spool-env.js';

const SSHD = '/usr/sbin/sshd';

/**
 * Why FUSE mounts cannot be made on this machine, or null. Only a missing FUSE device skips the tests;
 * a missing sshd or sshfs is an installation fault (Debian openssh-server, sshfs) and makes them fail.
 */
export function fuseUnavailable(): string | null {
  return existsSync('/dev/fuse') ? null : 'no /dev/fuse: FUSE is unavailable on this machine';
}

/** sshfs's defaults (attribute and directory caches of 20 s), as users mount. */
export const DEFAULT_MOUNT: string[] = [];
/**
 * Every cache off: sshfs's own (`cache=no`) and the kernel's attribute, name and negative-name caches, so
 * that each stat and lookup asks the server.
 */
export const UNCACHED_MOUNT = ['cache=no', 'attr_timeout=0', 'entry_timeout=0', 'negative_timeout=0'];

export interface SshfsBed {
  /** Mounts `remoteDir` (a local path, served by the bed's sshd) at `mountPoint` with sshfs `options`. */
  mount(remoteDir: string, mountPoint: string, options: string[]): Promise<void>;
  /** Unmounts everything, stops sshfs and sshd; safe to call whatever happened, and more than once. */
  close(): Promise<void>;
}

/** Starts the bed's sshd in `dir` (a fresh temp directory of the test). */
export async function startSshfsBed(dir: string): Promise<SshfsBed> {
  // Said at once, not as an sshd that never comes up 20 s later (what a machine without them showed).
  const missing = [SSHD, 'sshfs', 'fusermount3'].filter((p) => !onPath(p));
  if (missing.length) {
    throw new Error(`${missing.join(', ')} not found: install them (Debian: apt-get install -y openssh-server sshfs); .ci/run does`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  for (const key of ['host_key', 'user_key']) {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'codex-spool-test', '-f', join(dir, key)]);
  }
  await writeFile(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_key.pub')));
  const port = await freePort();
  const sshdConfig = join(dir, 'sshd_config');
  await writeFile(
    sshdConfig,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no', // the keys live under /tmp
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const sshConfig = join(dir, 'ssh_config');
  await writeFile(
    sshConfig,
    [
      'Host 127.0.0.1',
      `  Port ${port}`,
      `  IdentityFile ${join(dir, 'user_key')}`,
      '  IdentitiesOnly yes',
      '  BatchMode yes',
      '  StrictHostKeyChecking no',
      '  UserKnownHostsFile /dev/null',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // -D: stays in the foreground, a child of the test, killed in close().
  const sshd = execa(SSHD, ['-D', '-e', '-f', sshdConfig], { reject: false, stdin: 'ignore', buffer: false });
  const mounts: { point: string; child: ResultPromise }[] = [];
  const bed: SshfsBed = {
    async mount(remoteDir, mountPoint, options) {
      await mkdir(mountPoint, { recursive: true });
      const opts = options.length ? ['-o', options.join(',')] : [];
      // -f: in the foreground, so the test owns the process and close() can end it.
      const child = execa('sshfs', ['-f', '-F', sshConfig, `127.0.0.1:${remoteDir}`, mountPoint, ...opts], {
        reject: false,
        stdin: 'ignore',
        all: true,
      });
      mounts.push({ point: mountPoint, child });
      await waitFor(`sshfs mount at ${mountPoint}`, () => isMounted(mountPoint) || child.exitCode !== null, 20_000);
      if (!isMounted(mountPoint)) throw new Error(`sshfs failed: ${String((await child).all)}`);
    },
    async close() {
      for (const m of mounts.splice(0).reverse()) {
        await execa('fusermount3', ['-u', '-z', m.point], { reject: false });
        m.child.kill('SIGTERM');
        await m.child;
      }
      sshd.kill('SIGTERM');
      await sshd;
    },
  };
  try {
    // Ready once a real login works (the port alone may accept before keys load).
    await waitFor(
      'sshd up',
      async () => sshd.exitCode === null && (await execa('ssh', ['-F', sshConfig, '127.0.0.1', 'true'], { reject: false })).exitCode === 0,
      20_000,
    );
  } catch (err) {
    await bed.close();
    throw err;
  }
  return bed;
}

/** True when `program` (a path, or a name looked up on PATH) exists. */
function onPath(program: string): boolean {
  const dirs = program.includes('/') ? [''] : (process.env.PATH ?? '').split(':');
  return dirs.some((d) => existsSync(join(d, program)));
}

/** True when `path` is a mount point (as /proc/self/mountinfo lists it). */
function isMounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A worker on a simulated host: signals go to the worker process itself, wherever it runs. */
export interface HostWorker {
  log(): string;
  kill(signal: NodeJS.Signals): void;
  /** Sends `signal` and resolves with the worker's exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | undefined>;
}

/**
 * A host of its own processes: a PID, mount (for its /proc) and UTS namespace (its own host name), whose
 * init reaps orphans as a real host's init does. Its workers see none of the test's processes in /proc,
 * nor do other hosts' workers see theirs (the pids their runs record are this namespace's): a Codex left
 * running by a worker killed here can be known elsewhere only through the spool.
 */
export interface PidHost {
  /** Its /proc, seen from outside: its processes by the numbers it gives them. */
  proc: string;
  startWorker(t: TempRoot, args: string[], codexBin: string): Promise<HostWorker>;
  /** Kills every process of the host (its init's death takes the namespace down). */
  close(): Promise<void>;
}

const inHost = new Set<ResultPromise>();

export async function startPidHost(name: string): Promise<PidHost> {
  // bash in the foreground of `sleep` reaps any child, adopted orphans too.
  const unshare = execa(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '--uts', 'bash', '-c', `hostname ${name}; while :; do sleep 1; done`],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  const init = await waitFor(`host ${name} up`, () => (unshare.pid === undefined ? null : childOf(unshare.pid)), 10_000);
  return {
    proc: `/proc/${init}/root/proc`,
    async startWorker(t, args, codexBin) {
      const nsenter = execa(
        'nsenter',
        ['-t', String(init), '--pid', '--mount', '--uts', '--', 'node', cliPath, 'worker', '--codex-bin', codexBin, ...args],
        {
          env: t.env,
          reject: false,
          stdin: 'ignore',
          buffer: false,
        },
      );
      const w = workerProcess(nsenter, inHost);
      const pid = await waitFor('worker started in its host', () => (nsenter.pid === undefined ? null : childOf(nsenter.pid)), 10_000);
      const kill = (signal: NodeJS.Signals) => {
        try {
          process.kill(pid, signal);
        } catch {
          // gone already
        }
        // nsenter stops itself when its child stops, and continues it when continued itself.
        if (signal === 'SIGCONT') nsenter.kill('SIGCONT');
      };
      return {
        log: w.log,
        kill,
        async stop(signal = 'SIGTERM') {
          kill(signal);
          const r = await nsenter;
          inHost.delete(nsenter);
          return r.exitCode;
        },
      };
    },
    async close() {
      if (unshare.pid !== undefined) {
        const initPid = childOf(unshare.pid);
        if (initPid) process.kill(initPid, 'SIGKILL');
      }
      await unshare;
      await Promise.all([...inHost].map((c) => (c.kill('SIGKILL'), c)));
      inHost.clear();
    },
  };
}

/** The pid of a child of `parent` (from /proc), or null while it has none. */
function childOf(parent: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}
