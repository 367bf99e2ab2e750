import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CliError, EXIT, ifMissing, isMissing } from '../../src/util/errors.js';

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
    for (const [kind, code] of Object.entries(EXIT)) expect(new CliError('x', code).code).toBe(kind);
  });
});
