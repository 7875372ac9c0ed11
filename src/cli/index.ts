export { buildProgram, main } from './program.js';
export type { CliDeps, ServerLauncher } from './cli-deps.js';
export type { CliConfig, CliContextEntry } from './cli-config.js';
export { cliConfigPath, readCliConfig, withContext, writeCliConfig } from './cli-config.js';
export { EXIT_PIPE_CLOSED } from './closed-pipe.js';
export { tlsFetch } from './tls-fetch.js';
export type { TlsTrust } from './tls-fetch.js';
