// Helpers to run the real Codex CLI against the mock Responses server in tests.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the project root (two levels above test/helpers). */
const projectRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Native Codex binary target triple for this platform, as the npm wrapper picks it. */
function targetTriple(): string | undefined {
  const table: Record<string, string> = {
    'linux-x64': 'x86_64-unknown-linux-musl',
    'linux-arm64': 'aarch64-unknown-linux-musl',
    'darwin-x64': 'x86_64-apple-darwin',
    'darwin-arm64': 'aarch64-apple-darwin',
  };
  return table[`${process.platform}-${process.arch}`];
}

/** Path of the Codex CLI to spawn: the native binary if installed (0.03 s start), else node_modules/.bin/codex. */
export function codexBin(): string {
  const triple = targetTriple();
  if (triple !== undefined) {
    const pkg = `codex-${process.platform}-${process.arch}`;
    const native = join(projectRoot, 'node_modules', '@openai', pkg, 'vendor', triple, 'bin', 'codex');
    if (existsSync(native)) return native;
  }
  return join(projectRoot, 'node_modules', '.bin', 'codex');
}

/** Minimal model catalog entry for mock-model (silences the "Model metadata not found" warning item). */
export const MOCK_MODEL_CATALOG = {
  models: [
    {
      slug: 'mock-model',
      display_name: 'Mock',
      supported_reasoning_levels: [],
      shell_type: 'shell_command',
      visibility: 'list',
      supported_in_api: true,
      priority: 1,
      support_verbosity: false,
      truncation_policy: { mode: 'tokens', limit: 10000 },
      experimental_supported_tools: [],
      base_instructions: 'You are Codex, a coding agent.',
    },
  ],
};

/** TOML basic string (JSON string escapes are valid TOML escapes). */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** Options for writeCodexHome. */
export interface CodexHomeOptions {
  /** Offer the model the freeform `apply_patch` tool (needed for MockTurn 'apply-patch'); default true. */
  applyPatchTool?: boolean;
}

/** Writes $dir/config.toml and $dir/models.json pointing Codex at the mock, with the given dirs trusted. */
export async function writeCodexHome(dir: string, baseUrl: string, trustedDirs: string[], options: CodexHomeOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const catalog = join(dir, 'models.json');
  const model = { ...MOCK_MODEL_CATALOG.models[0]! } as Record<string, unknown>;
  // Codex 0.169 accepts only "freeform" here; without it a custom_tool_call apply_patch is "unsupported".
  if (options.applyPatchTool ?? true) model.apply_patch_tool_type = 'freeform';
  await writeFile(catalog, `${JSON.stringify({ models: [model] }, null, 2)}\n`);
  const lines = [
    'model = "mock-model"',
    'model_provider = "mock"',
    'approval_policy = "never"',
    'sandbox_mode = "danger-full-access"',
    'check_for_update_on_startup = false',
    `model_catalog_json = ${tomlString(catalog)}`,
    '',
    '[model_providers.mock]',
    'name = "Mock"',
    `base_url = ${tomlString(baseUrl)}`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    'stream_idle_timeout_ms = 15000',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[features]',
    'plugins = false',
    'remote_plugin = false',
    'apps = false',
    'unbounded_connection_retries = false',
    'shell_snapshot = false',
    '',
  ];
  for (const d of trustedDirs) {
    lines.push(`[projects.${tomlString(resolve(d))}]`, 'trust_level = "trusted"', '');
  }
  await writeFile(join(dir, 'config.toml'), lines.join('\n'));
}
