// `codex-spool status …` alone, for dist/status.js (src/build.mjs): the program with its one command, identical to
// src/main.ts for a command line that names status first, without loading or compiling the other commands.
import { statusCommand } from './commands/status.js';
import { runProgram } from './program.js';

export const main = (argv: string[]): Promise<number> => runProgram(argv, { status: async () => statusCommand() });
