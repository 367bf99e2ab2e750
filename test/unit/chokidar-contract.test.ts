// The worker turns off chokidar's per-event listing of the inbox by replacing FSWatcher#_readdirp (an internal:
// chokidar itself returns nothing from it once closed, and its reader stops on that). An upgrade that renames
// or drops it would silently bring back an O(queued files) listing and lstat on every inbox event.
import { FSWatcher } from 'chokidar';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('chokidar internals the worker relies on', () => {
  it('FSWatcher#_readdirp exists, and its caller stops when it returns nothing', () => {
    expect(typeof (FSWatcher.prototype as unknown as { _readdirp: unknown })._readdirp).toBe('function');
    const handler = readFileSync(new URL('../../node_modules/chokidar/handler.js', import.meta.url), 'utf8');
    expect(handler).toMatch(/let stream = this\.fsw\._readdirp\([\s\S]{0,200}?if \(!stream\)\s*return;/);
  });
});
