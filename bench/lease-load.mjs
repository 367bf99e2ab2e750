// Does a busy but healthy process lose its claims? A claim lock is held while the event loop does CHUNK ms of
// synchronous work between yields (and POOL pbkdf2 jobs keep the thread pool busy); held() is asked every
// 500 ms for SECS seconds. A false answer would leave a healthy worker's job to recovery (never a duplicate).
// Usage (after `npm run build`): node bench/lease-load.mjs CHUNK_MS POOL SECS [STALE_MS]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { pbkdf2 } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLock } from '../dist/claim-lock.js';

const [chunkMs, pool, secs, staleMs] = process.argv.slice(2).map(Number);
const root = await mkdtemp(join(tmpdir(), 'lease-load-'));
const active = join(root, 'spool', 'active');
await mkdir(active, { recursive: true });
if (staleMs)
  await writeFile(join(root, 'codex-spool.config.json'), JSON.stringify({ policy: { lock_stale_ms: staleMs } }), { mode: 0o600 });
const load = loadavg()[0].toFixed(2);
let compromised = 0;
const lock = await tryLock(active, 'j.json', () => compromised++);
let stop = false;
const hog = () => void (stop || pbkdf2('x', 'y', 300_000, 32, 'sha256', hog));
for (let i = 0; i < pool; i++) hog();
let calls = 0;
let notHeld = 0;
const asking = (async () => {
  while (!stop) {
    await new Promise((r) => setTimeout(r, 500));
    calls++;
    if (!(await lock.held())) notHeld++;
  }
})();
for (const end = Date.now() + secs * 1000; Date.now() < end; ) {
  for (const t = Date.now(); Date.now() - t < chunkMs; ); // synchronous work: no timer, no refresh meanwhile
  await new Promise((r) => setImmediate(r));
}
stop = true;
await asking;
await lock.release();
await rm(root, { recursive: true });
console.log(JSON.stringify({ chunkMs, pool, secs, staleMs: staleMs || 'policy default', calls, notHeld, compromised, load }));
