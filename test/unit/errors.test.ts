import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CliError, EXIT, ifMissing, isMissing } from '../../src/util/errors.js';
import { DuplicateIdError } from '../../src/spool/moves.js';
import { SettingsError } from '../../src/claude/settings.js';
import { InstallConflict } from '../../src/claude/install.js';

const errno = (code: string) => Object.assign(new Error(`${code}: fabricated`), { code });

describe('ifMissing', () => {
  it('reads only ENOENT and ENOTDIR as absent', () => {
    expect(ifMissing('absent')(errno('ENOENT'))).toBe('absent');
    expect(ifMissing(null)(errno('ENOTDIR'))).toBeNull();
  });

  it('throws every other error on, unchanged (EACCES is not "no such file")', () => {
    const codes = fc.oneof(
      fc.constantFrom('EACCES', 'EPERM', 'EIO', 'ELOOP', 'EISDIR', 'EMFILE', 'ENAMETOOLONG', 'EBUSY', 'ENOSPC'),
      fc.string().filter((c) => c !== 'ENOENT' && c !== 'ENOTDIR'),
    );
    fc.assert(
      fc.property(codes, (code) => {
        const err = errno(code);
        expect(() => ifMissing(null)(err)).toThrow(err);
        expect(isMissing(err)).toBe(false);
      }),
    );
  });

  it('throws on what is not an errno error at all', () => {
    for (const err of [new Error('plain'), 'text', null, undefined, { code: 1 }]) expect(() => ifMissing(0)(err)).toThrow();
  });

  it('works as a promise rejection handler', async () => {
    await expect(Promise.reject(errno('ENOENT')).catch(ifMissing([]))).resolves.toEqual([]);
    await expect(Promise.reject(errno('EACCES')).catch(ifMissing([]))).rejects.toMatchObject({ code: 'EACCES' });
  });
});

describe('CliError', () => {
  it('carries message, exit code, its kind and its cause', () => {
    const cause = errno('EACCES');
    const err = new CliError('no access', EXIT.usage, { cause });
    expect(err).toMatchObject({ message: 'no access', exitCode: 2, code: 'usage', cause });
    expect(new CliError('x')).toMatchObject({ exitCode: EXIT.failed, code: 'failed' });
    expect(new CliError('x', EXIT.notFound).code).toBe('not_found');
    expect(new CliError('x', EXIT.usage, { code: 'bad_thing' }).code).toBe('bad_thing');
  });

  it('is the one shape of the errors a command reports: each kind a CliError with its own code and exit code', () => {
    const kinds = [
      [new DuplicateIdError('a', 'done'), 'duplicate_id', EXIT.usage],
      [new SettingsError('x'), 'settings_unmergeable', EXIT.failed],
      [new InstallConflict('x'), 'install_conflict', EXIT.failed],
    ] as const;
    for (const [err, code, exitCode] of kinds) {
      expect(err).toBeInstanceOf(CliError);
      expect(err).toMatchObject({ code, exitCode });
    }
  });
});
