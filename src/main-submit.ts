// `codex-spool submit …` alone, for dist/submit.js (src/build.mjs): the program with its one command, identical to
// src/main.ts for a command line that names submit first, without loading or compiling the other commands.
import { submitCommand } from './commands/submit.js';
import { runProgram } from './program.js';

export const main = (argv: string[]): Promise<number> => runProgram(argv, { submit: async () => submitCommand() });
