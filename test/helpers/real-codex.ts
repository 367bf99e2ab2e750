// The setup of a test against the real Codex CLI: a mock Responses server, a temp root with one git repo, and
// a CODEX_HOME that points Codex at the mock and trusts the repo.
import { writeCodexHome } from './codex-home.js';
import { startMockResponses, type MockServer } from './mock-responses.js';
import { makeTempRoot, type TempRoot } from './spool-env.js';

export interface RealCodexSpool {
  mock: MockServer;
  t: TempRoot;
  repo: string;
  /** Closes the mock and removes the temp root. */
  close(): Promise<void>;
}

/** `prepare` runs on the new repo before Codex's home is written (commits, a change to review). */
export async function realCodexSpool(repoName = 'main', prepare?: (repo: string) => Promise<void>): Promise<RealCodexSpool> {
  const mock = await startMockResponses();
  const t = await makeTempRoot();
  const repo = await t.repo(repoName);
  await prepare?.(repo);
  await writeCodexHome(t.env.CODEX_HOME!, mock.url, [repo]);
  return {
    mock,
    t,
    repo,
    async close() {
      await mock.close();
      await t.cleanup();
    },
  };
}
