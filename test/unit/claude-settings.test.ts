import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALLOW_RULES, HOOK_COMMAND, OLD_HOOK_COMMAND } from '../../src/claude/install.js';
import {
  HOOK_EVENTS,
  SettingsError,
  SettingsRecord,
  hasOurHooks,
  hooksFor,
  mergeSettings,
  unmergeSettings,
} from '../../src/claude/settings.js';
import { spelledJson } from '../helpers/json-spelling.js';

const CMD = 'codex-spool claude hook';
const ours = { hooks: [{ type: 'command', command: CMD, timeout: 10 }] };

const userSettings = `${JSON.stringify(
  {
    model: 'opus',
    permissions: { allow: ['Bash(npm test)'] },
    hooks: {
      UserPromptSubmit: [{ hooks: [{ type: 'command', command: '/usr/local/bin/my-hook' }] }],
      PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: 'audit' }] }],
    },
    env: { FOO: '1' },
  },
  null,
  2,
)}\n`;

describe('mergeSettings', () => {
  it('creates settings with both hooks when there is no file, and uninstall deletes it again', () => {
    const { text, record } = mergeSettings(null, CMD);
    expect(JSON.parse(text!)).toEqual({ hooks: { SessionStart: [ours], UserPromptSubmit: [ours] } });
    expect(text!.endsWith('}\n')).toBe(true);
    expect(record).toEqual({
      command: CMD,
      added: ['SessionStart', 'UserPromptSubmit'],
      created_file: true,
      created_hooks: true,
      created_events: ['SessionStart', 'UserPromptSubmit'],
      allow_added: [],
      created_permissions: false,
      created_allow: false,
      original_sha256: null,
    });
    expect(unmergeSettings(text, record)).toBeNull();
  });

  it("keeps the user's hooks and settings, in order, and appends ours", () => {
    const { text, record } = mergeSettings(userSettings, CMD);
    const s = JSON.parse(text!);
    expect(Object.keys(s)).toEqual(['model', 'permissions', 'hooks', 'env']);
    expect(Object.keys(s.hooks)).toEqual(['UserPromptSubmit', 'PreToolUse', 'SessionStart']);
    expect(s.hooks.UserPromptSubmit).toEqual([{ hooks: [{ type: 'command', command: '/usr/local/bin/my-hook' }] }, ours]);
    expect(s.hooks.PreToolUse).toEqual(JSON.parse(userSettings).hooks.PreToolUse);
    expect(s.hooks.SessionStart).toEqual([ours]);
    expect(record.created_events).toEqual(['SessionStart']);
    expect(record.created_hooks).toBe(false);
    expect(hasOurHooks(text, CMD)).toBe(true);
  });

  it('a second merge changes nothing, and unmerge gives back the original bytes', () => {
    const first = mergeSettings(userSettings, CMD);
    const second = mergeSettings(first.text, CMD, first.record);
    expect(second.text).toBeNull();
    expect(second.record).toEqual(first.record);
    expect(unmergeSettings(first.text, second.record)).toBe(userSettings);
  });

  it('keeps no settings value in its record, only a hash of the file before', () => {
    const secret = `${JSON.stringify({ env: { ANTHROPIC_API_KEY: 'sk-secret-123' } }, null, 2)}\n`;
    const { record } = mergeSettings(secret, CMD);
    expect(JSON.stringify(record)).not.toContain('sk-secret');
    expect(record.original_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('restores odd formatting byte for byte when settings were not edited since', () => {
    const odd = '{\n    "model": "opus",\n    "hooks": {}\n}'; // 4 spaces, no final newline
    const { text, record } = mergeSettings(odd, CMD);
    expect(text).toMatch(/^\{\n {4}"model"/);
    expect(text!.endsWith('}')).toBe(true);
    expect(unmergeSettings(text, record)).toBe(odd);
  });

  it('after the user edits settings, unmerge takes out only our hooks and keeps their edit and style', () => {
    const odd = '{\n    "model": "opus",\n    "hooks": {}\n}';
    const { text, record } = mergeSettings(odd, CMD);
    const edited = JSON.parse(text!);
    edited.theme = 'dark';
    edited.hooks.UserPromptSubmit.push({ hooks: [{ type: 'command', command: 'mine' }] });
    const editedText = JSON.stringify(edited, null, 4);
    const out = unmergeSettings(editedText, record)!;
    expect(JSON.parse(out)).toEqual({
      model: 'opus',
      hooks: { UserPromptSubmit: [{ hooks: [{ type: 'command', command: 'mine' }] }] },
      theme: 'dark',
    });
    expect(out).toMatch(/^\{\n {4}"model"/);
  });

  it('an empty "hooks" object the user had stays after uninstall', () => {
    const before = '{\n  "hooks": {}\n}\n';
    const { text, record } = mergeSettings(before, CMD);
    const touched = text!.replace('\n}\n', ',\n  "x": 1\n}\n'); // an edit: no byte-exact restore
    expect(JSON.parse(unmergeSettings(touched, record)!)).toEqual({ hooks: {}, x: 1 });
  });

  it('a hook the user added by hand is not ours: install adds nothing and uninstall keeps it', () => {
    const manual = `${JSON.stringify({ hooks: hooksFor(CMD) }, null, 2)}\n`;
    const { text, record } = mergeSettings(manual, CMD);
    expect(text).toBeNull();
    expect(record.added).toEqual([]);
    expect(unmergeSettings(manual, record)).toBe(manual);
  });

  it('re-adds a hook the user took out, and uninstall removes both of ours', () => {
    const first = mergeSettings(userSettings, CMD);
    const s = JSON.parse(first.text!);
    delete s.hooks.SessionStart;
    const edited = `${JSON.stringify(s, null, 2)}\n`;
    const second = mergeSettings(edited, CMD, first.record);
    expect(JSON.parse(second.text!).hooks.SessionStart).toEqual([ours]);
    expect(second.record.added).toEqual(['SessionStart', 'UserPromptSubmit']);
    expect(second.record.original_sha256).toBeUndefined(); // the "before" still had one of ours
    const out = unmergeSettings(second.text, second.record)!;
    expect(JSON.parse(out)).toEqual(JSON.parse(userSettings));
  });

  it('our hook moved into a group of the user is taken out of it, the group kept', () => {
    const { text, record } = mergeSettings(userSettings, CMD);
    const s = JSON.parse(text!);
    s.hooks.UserPromptSubmit = [{ hooks: [{ type: 'command', command: '/usr/local/bin/my-hook' }, ours.hooks[0]] }];
    const out = JSON.parse(unmergeSettings(JSON.stringify(s, null, 2), record)!);
    expect(out.hooks.UserPromptSubmit).toEqual([{ hooks: [{ type: 'command', command: '/usr/local/bin/my-hook' }] }]);
    expect(out.hooks.SessionStart).toBeUndefined();
  });

  it('refuses settings it cannot merge into, rather than clobbering them', () => {
    expect(() => mergeSettings('{ "model": ', CMD)).toThrow(SettingsError);
    expect(() => mergeSettings('[1]', CMD)).toThrow(SettingsError);
    expect(() => mergeSettings('{"hooks": []}', CMD)).toThrow(SettingsError);
    expect(() => mergeSettings('{"hooks": {"SessionStart": {}}}', CMD)).toThrow(SettingsError);
  });

  it('an empty or blank file comes back as it was', () => {
    for (const blank of ['', '\n', ' \r\n\t']) {
      const { text, record } = mergeSettings(blank, CMD);
      expect(JSON.parse(text!).hooks.SessionStart).toEqual([ours]);
      expect(unmergeSettings(text, record)).toBe(blank);
    }
  });

  it("an older version's install (`codex-spool claude hook`) moves to the new command in place, and uninstall still gives back the bytes", () => {
    // With the old command also in a hook of the user's own (Stop): not install's, so it stays.
    const before = userSettings.replace(
      '"PreToolUse"',
      `"Stop": [{ "hooks": [{ "type": "command", "command": "${OLD_HOOK_COMMAND}" }] }],\n    "PreToolUse"`,
    );
    const old = mergeSettings(before, OLD_HOOK_COMMAND, undefined, ALLOW_RULES);
    const moved = mergeSettings(old.text, HOOK_COMMAND, old.record, ALLOW_RULES);
    // Only the command strings changed, and only install's: the user's Stop hook still runs the old one.
    const q = (c: string) => JSON.stringify(c);
    expect(moved.text!.split(q(OLD_HOOK_COMMAND))).toHaveLength(2);
    expect(moved.text!.replaceAll(q(HOOK_COMMAND), q(OLD_HOOK_COMMAND))).toBe(old.text);
    expect(JSON.parse(moved.text!).hooks.Stop[0].hooks[0].command).toBe(OLD_HOOK_COMMAND);
    expect(moved.record).toEqual({ ...old.record, command: HOOK_COMMAND });
    expect(mergeSettings(moved.text, HOOK_COMMAND, moved.record, ALLOW_RULES).text).toBeNull(); // nothing left to do
    expect(unmergeSettings(moved.text, moved.record)).toBe(before);
  });

  it('a missing file stays missing on uninstall', () => {
    const { record } = mergeSettings(null, CMD);
    expect(unmergeSettings(null, record)).toBeNull();
  });
});

describe('permission rules', () => {
  const allowOf = (text: string | null) => JSON.parse(text!).permissions?.allow;

  it('a new file gets the rules, and uninstall deletes it again', () => {
    const { text, record } = mergeSettings(null, CMD, undefined, ALLOW_RULES);
    expect(allowOf(text)).toEqual(ALLOW_RULES);
    expect(record).toMatchObject({ allow_added: ALLOW_RULES, created_permissions: true, created_allow: true });
    expect(unmergeSettings(text, record)).toBeNull();
  });

  it("appends only the rules missing after the user's, keeps a rule the user had on uninstall, and restores the bytes", () => {
    const mine = userSettings.replace(
      '"Bash(npm test)"',
      `"Bash(npm test)",
      ${JSON.stringify(ALLOW_RULES[3])}`,
    );
    const first = mergeSettings(mine, CMD, undefined, ALLOW_RULES);
    expect(allowOf(first.text)).toEqual(['Bash(npm test)', ALLOW_RULES[3], ...ALLOW_RULES.filter((_, i) => i !== 3)]);
    expect(first.record).toMatchObject({ created_permissions: false, created_allow: false });
    expect(first.record.allow_added).not.toContain(ALLOW_RULES[3]);
    const second = mergeSettings(first.text, CMD, first.record, ALLOW_RULES);
    expect(second.text).toBeNull();
    expect(unmergeSettings(first.text, second.record)).toBe(mine);
  });

  it('an install recorded before rules existed gets them, and uninstall then removes hooks and rules', () => {
    const old = mergeSettings(userSettings, CMD);
    const oldRecord = SettingsRecord.parse(
      JSON.parse(JSON.stringify({ ...old.record, allow_added: undefined, created_permissions: undefined, created_allow: undefined })),
    );
    const upgraded = mergeSettings(old.text, CMD, oldRecord, ALLOW_RULES);
    expect(allowOf(upgraded.text)).toEqual(['Bash(npm test)', ...ALLOW_RULES]);
    expect(unmergeSettings(upgraded.text, upgraded.record)).toBe(userSettings);
  });

  it('never allows every codex-spool command', () => {
    expect(ALLOW_RULES.every((r) => /^Bash\(codex-spool [a-z]+:\*\)$/.test(r))).toBe(true);
  });

  it('refuses permissions of the wrong shape', () => {
    expect(() => mergeSettings('{"permissions": []}', CMD, undefined, ALLOW_RULES)).toThrow(SettingsError);
    expect(() => mergeSettings('{"permissions": {"allow": "x"}}', CMD, undefined, ALLOW_RULES)).toThrow(SettingsError);
  });

  it('install only inserts our hooks and missing rules; uninstall gives back the bytes (property)', () => {
    const rule = fc.oneof(fc.constantFrom(...ALLOW_RULES), fc.string({ maxLength: 8 }));
    const permissions = fc.record(
      { allow: fc.array(rule, { maxLength: 4 }), deny: fc.array(fc.string({ maxLength: 4 }), { maxLength: 1 }) },
      { requiredKeys: [] },
    );
    const settings = fc
      .tuple(
        fc.dictionary(
          fc.string({ maxLength: 6 }).filter((k) => k !== 'hooks'),
          fc.jsonValue({ maxDepth: 1 }),
          { maxKeys: 3 },
        ),
        fc.option(permissions),
      )
      .map(([rest, p]) => (p === null ? rest : { ...rest, permissions: p }));
    fc.assert(
      fc.property(spelledJson(settings), ([text, value]) => {
        const { text: installed, record } = mergeSettings(text, CMD, undefined, ALLOW_RULES);
        const had: unknown[] = (value as { permissions?: { allow?: unknown[] } }).permissions?.allow ?? [];
        expect(allowOf(installed)).toEqual([...had, ...ALLOW_RULES.filter((r) => !had.includes(r))]);
        expect(onlyInserted(text, installed!, HOOK_EVENTS.length + ALLOW_RULES.length)).toBe(true);
        expect(unmergeSettings(installed, record)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });
});

/** True when `after` is `before` with at most `pieces` runs of characters inserted, and nothing else changed. */
function onlyInserted(before: string, after: string, pieces: number): boolean {
  let p = 0;
  while (p < before.length && before[p] === after[p]) p++;
  if (p === before.length) return after.length === before.length || pieces > 0;
  if (pieces === 0) return false;
  const extra = after.length - before.length;
  for (let len = 1; len <= extra; len++) if (onlyInserted(before.slice(p), after.slice(p + len), pieces - 1)) return true;
  return false;
}

describe('install and uninstall as text edits', () => {
  const hook = fc.record({ type: fc.constant('command'), command: fc.string({ maxLength: 8 }) });
  const group = fc.record({ matcher: fc.string({ maxLength: 4 }), hooks: fc.array(hook, { maxLength: 2 }) }, { requiredKeys: ['hooks'] });
  const hooks = fc.dictionary(fc.constantFrom(...HOOK_EVENTS, 'Stop', 'PreToolUse'), fc.array(group, { maxLength: 2 }), { maxKeys: 3 });
  const settings = fc
    .tuple(
      fc.dictionary(
        fc.string({ maxLength: 6 }).filter((k) => k !== 'hooks'),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 4 },
      ),
      fc.option(hooks),
    )
    .map(([rest, h]) => (h === null ? rest : { ...rest, hooks: h }));

  /** What install should mean: the settings with our group appended to each event. */
  const withOurs = (value: Record<string, unknown>) => {
    const out = structuredClone(value) as { hooks?: Record<string, unknown[]> };
    out.hooks ??= {};
    for (const e of HOOK_EVENTS) (out.hooks[e] ??= []).push(ours);
    return out;
  };

  it('CRLF, escapes, number spellings, odd indentation and duplicate keys come back byte for byte', () => {
    const odd =
      '{\r\n\t"model": "caf\\u00e9",\r\n  "path": "a\\/b", "n": 1.0, "m": 1e3,\r\n\t"n": 2,\r\n\t"hooks": {\r\n\t\t"Stop": []\r\n\t}\r\n}';
    const { text, record } = mergeSettings(odd, CMD);
    expect(text!.startsWith(odd.slice(0, odd.indexOf('[]')))).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(JSON.parse(text!).hooks.SessionStart).toEqual([ours]);
    expect(unmergeSettings(text, record)).toBe(odd);
  });

  it('install only inserts our entries; uninstall gives back the bytes, and keeps an edit made since (property)', () => {
    fc.assert(
      fc.property(spelledJson(settings), ([text, value]) => {
        const { text: installed, record } = mergeSettings(text, CMD);
        expect(installed).not.toBeNull();
        expect(JSON.parse(installed!)).toEqual(withOurs(value));
        expect(onlyInserted(text, installed!, HOOK_EVENTS.length)).toBe(true);
        expect(unmergeSettings(installed, record)).toBe(text);
        // The user adds a setting after install: uninstall takes out only ours.
        const edit = (t: string) => t.replace('{', '{"edited":1,');
        if (Object.keys(value).length > 0) expect(unmergeSettings(edit(installed!), record)).toBe(edit(text));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the plugin', () => {
  it('hooks/hooks.json runs the same hook the installer adds', () => {
    const pluginHooks = JSON.parse(readFileSync(new URL('../../src/claude/plugin/hooks/hooks.json', import.meta.url), 'utf8'));
    expect(HOOK_COMMAND).toBe('codex-spool-hook');
    expect(pluginHooks.hooks).toEqual(hooksFor(HOOK_COMMAND));
  });

  it("install's permission rules cover every codex-spool command the skill and commands run, by the name they run it", () => {
    const dir = new URL('../../src/claude/plugin/', import.meta.url);
    const files = ['skills/codex-spool/SKILL.md', ...readdirSync(new URL('commands/', dir)).map((n) => `commands/${n}`)];
    const run = new Set<string>();
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      for (const m of text.matchAll(/allowed-tools: (.*)/g)) for (const rule of m[1]!.split(/,\s*/)) expect(ALLOW_RULES, f).toContain(rule);
      for (const m of text.matchAll(/(?:^|`)codex-spool ([a-z][a-z-]*)/gm)) run.add(m[1]!); // in code, not prose
    }
    run.delete('claude'); // `codex-spool claude hook`: the hook, not a Bash call
    expect([...run].sort()).toEqual(ALLOW_RULES.map((r) => /^Bash\(codex-spool ([a-z]+):\*\)$/.exec(r)![1]).sort());
  });
});
