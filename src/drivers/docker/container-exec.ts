// PROVISIONAL (replaced by the dockerio branch).
import type Dockerode from 'dockerode';
import type { ExecOptions, ExecResult } from '../driver.js';
export async function execInContainer(_docker: Dockerode, _id: string, _argv: readonly string[], _options: ExecOptions): Promise<ExecResult> {
  return { exitCode: 127, output: '', timedOut: false };
}
