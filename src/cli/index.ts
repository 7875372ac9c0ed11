export { buildProgram, main } from './program.js';
export type { CliDeps, ServerLauncher } from './cli-deps.js';
