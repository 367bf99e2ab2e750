// Bundles src/ into dist/ (npm run build, after tsc's type check). CommonJS, not ESM: Node's CommonJS loader
// is synchronous and resolves nothing for a bundle that has no imports, while each ES module costs a
// resolve (with a realpath), a fetch and a link, and importing a built-in as ES builds its whole namespace
// (node:fs's ReadStream getter alone loads every stream module). The process starts faster either way by
// loading less, so each hot path is its own bundle with nothing shared:
//   cli.js        the process shell (src/cli.ts): picks one of the two below
//   hook.js       the Claude hook's front (src/claude/seen.ts) and, when something is new, the hook itself
//   program.js    every command (src/main.ts), run through a V8 code cache (src/util/code-cache.ts)
//   claim-lock.js the claim lock alone, for tests that race it from another process
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const ENTRIES = { cli: 'src/cli.ts', hook: 'src/claude/seen.ts', program: 'src/main.ts', 'claim-lock': 'src/spool/lock.ts' };

await build({
  entryPoints: ENTRIES,
  outdir: 'dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  logLevel: 'warning',
  // The sources are ES modules: src/util/package-files.ts finds the package from import.meta.url.
  define: { 'import.meta.url': '__import_meta_url' },
  banner: { js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
});
// The package is "type": "module"; the bundles in dist/ are CommonJS.
writeFileSync('dist/package.json', `${JSON.stringify({ type: 'commonjs' })}\n`);
