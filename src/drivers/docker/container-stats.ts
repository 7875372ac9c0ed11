// PROVISIONAL (replaced by the dockerio branch).
import type Dockerode from 'dockerode';
import type { ContainerStats } from '../driver.js';
export async function sampleContainerStats(_docker: Dockerode, _id: string, _now: () => number): Promise<ContainerStats | undefined> {
  return undefined;
}
