export type {
  ContainerConfig,
  ContainerHandle,
  ContainerLogLine,
  ContainerMount,
  ContainerResources,
  PullProgress,
  SandboxConfig,
  ContainerStats,
  Driver,
  ExecOptions,
  ExecResult,
  ExitResult,
  ListedContainer,
  LogReadOptions,
  RecoverResult,
  StopOptions,
} from './driver.js';
export { SANDBOX_CONTAINER, mountDirName } from './driver.js';
// The conformance suite (driver-conformance.ts) is imported by driver tests directly: it loads node:test.
export type { ProcessDriverOptions } from './process/process-driver.js';
export { ProcessDriver } from './process/process-driver.js';
export type { ProcessHandle } from './process/process-handle.js';
export { isSameProcess, readProcEntry } from './process/proc-table.js';
export { exitDirsInUse } from './process/shim-census.js';
export type { FakeBehavior, FakeCall, FakeDriverOptions, FakeHandle } from './fake/fake-driver.js';
export { FakeDriver } from './fake/fake-driver.js';
export type { NodeDrivers } from './driver-router.js';
export { DriverRouter } from './driver-router.js';
export type { DockerDriverOptions, DockerHandle } from './docker/docker-driver.js';
export { DockerDriver } from './docker/docker-driver.js';
export type { BerthNetwork } from './docker/docker-network.js';
export { DEFAULT_NETWORK, ensureNetwork } from './docker/docker-network.js';
export { dockerClient, dockerHostOf } from './docker/docker-client.js';
export { ensurePauseImage } from './docker/pause-image.js';
export type { EngineImage } from './docker/local-images.js';
export { DockerLocalImages } from './docker/local-images.js';
