// Bundles src/ into dist/ (npm run build, after tsc's type check). CommonJS, not ESM: Node's CommonJS loader
// is synchronous and resolves nothing for a bundle that has no imports, while each ES module costs a
// resolve (with a realpath), a fetch and a link, and importing a built-in as ES builds its whole namespace
// (node:fs's ReadStream getter alone loads every stream module). The process starts faster either way by
// loading less, so each hot path is its own bundle with nothing shared:
//   cli.js        the process shell (src/cli.ts): picks one of the four below from the command line
//   hook.js       the Claude hook's front (src/claude/seen.ts) and, when something is new, the hook itself
//   submit.js     `submit` alone (src/main-submit.ts): commander, zod and the spool, not the other commands
//   status.js     `status` alone (src/main-status.ts), likewise
//   program.js    every command (src/main.ts)
// Each but cli.js is run through a V8 code cache of its own (src/util/code-cache.ts), made by its first run.
//   claim-lock.js the claim lock alone, for tests that race it from another process
// and copies the Claude hook's shell front, src/claude/codex-spool-hook.sh, to dist/codex-spool-hook (a bin).
import { copyFileSync, chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);

const ENTRIES = {
  cli: 'src/cli.ts',
  hook: 'src/claude/seen.ts',
  submit: 'src/main-submit.ts',
  status: 'src/main-status.ts',
  program: 'src/main.ts',
  'claim-lock': 'src/spool/lock.ts',
};

/**
 * Built-ins that a command loads only when it first uses one of their functions, not when a module that
 * imports them loads: node:child_process (with net, dgram and the streams) is needed by the worker alone but
 * imported by commander, which spawns only subcommands that are separate executables (codex-spool has none);
 * node:crypto is imported by modules that submit loads but whose hashing it never runs. Each is a few ms of
 * every short command's start. A stand-in module gets each export from the real one when first read.
 */
const LAZY_BUILTINS = ['node:child_process', 'node:crypto'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    // The stand-in's own require of the real module is left to esbuild (a built-in: external).
    b.onResolve({ filter: new RegExp(`^(${LAZY_BUILTINS.join('|')})$`) }, ({ path, namespace }) =>
      namespace === 'lazy-builtin' ? undefined : { path, namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, ({ path }) => ({
      contents: [
        `let real;`,
        ...Object.getOwnPropertyNames(require(path)).map(
          (k) =>
            `Object.defineProperty(exports, ${JSON.stringify(k)}, { enumerable: true, get: () => (real ??= require(${JSON.stringify(path)}))[${JSON.stringify(k)}] });`,
        ),
      ].join('\n'),
    }));
  },
};

await build({
  entryPoints: ENTRIES,
  outdir: 'dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [lazyBuiltins],
  // The sources are ES modules: src/util/package-files.ts finds the package from import.meta.url.
  define: { 'import.meta.url': '__import_meta_url' },
  banner: { js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
});
// The package is "type": "module"; the bundles in dist/ are CommonJS.
writeFileSync('dist/package.json', `${JSON.stringify({ type: 'commonjs' })}\n`);
copyFileSync('src/claude/codex-spool-hook.sh', 'dist/codex-spool-hook');
chmodSync('dist/codex-spool-hook', 0o755);
