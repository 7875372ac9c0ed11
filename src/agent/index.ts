export type { AgentOptions, AgentPorts } from './agent.js';
export { Agent } from './agent.js';
export type { StepResult } from './instance-runner.js';
export type { RunnerContext } from './runner-context.js';
export { InstanceRunner } from './instance-runner.js';
export type { LogQuery, InstanceSource } from './instance-telemetry.js';
export { InstanceTelemetry, toNanoIso } from './instance-telemetry.js';
export { containerEnv, containerArgv, expandVars } from './container-env.js';
export type { DataPlane, DrainOutcome } from './instance-drain.js';
