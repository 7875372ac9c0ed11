// PROVISIONAL (replaced by the dockerio branch).
import type Dockerode from 'dockerode';
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';
export interface PullProgress { readonly layer?: string; readonly status: string; readonly current?: number; readonly total?: number }
export async function ensureImage(docker: Dockerode, ref: string, _policy: PullPolicy, _options?: { onProgress?: (p: PullProgress) => void }): Promise<{ pulled: boolean; imageId: string }> {
  const info = await docker.getImage(ref).inspect();
  return { pulled: false, imageId: info.Id };
}
