// PROVISIONAL (replaced by the dockerio branch).
import type Dockerode from 'dockerode';
import type { ContainerLogLine, LogReadOptions } from '../driver.js';
export async function* readContainerLogs(_docker: Dockerode, _id: string, _options: LogReadOptions): AsyncIterable<ContainerLogLine> {
  yield* [];
}
