export { buildProgram, main } from './program.js';
export type { CliDeps, ServerLauncher } from './cli-deps.js';
export { EXIT_PIPE_CLOSED } from './closed-pipe.js';
