import { useEffect, useState } from 'react';
import { isApiError } from '../../../../src/client/index.js';
import type { Instance, Service } from '../../../../src/model/index.js';
import { useSession } from '../../session/session.js';

/** One service and its instances, kept live. `service` is null once the service is gone (404 or deleted). */
export interface LiveService {
  readonly service: Service | null | undefined;
  readonly instances: readonly Instance[] | undefined;
  readonly error: string | undefined;
}

/**
 * A service and its instances, live through ONE watch stream (docs/console.md, "Service detail"): the instances
 * are listed with their store revision R (`GET …/instances`), then the service is read
 * (`GET …/services/:name`, at a revision ≥ R), then `GET /v1/watch?fromRevision=R+1` is followed,
 * keeping the events for this service and its instances. Replaying a change the service read already
 * holds is harmless: events come in revision order, so the last one applied is the newest. Changes
 * are applied at most once per animation frame; a broken stream is read again after 1 s, 2, 4 … 15 s.
 */
export function useServiceLive(grid: string, name: string): LiveService {
  const { client } = useSession();
  const [state, setState] = useState<LiveService>({ service: undefined, instances: undefined, error: undefined });

  useEffect(() => {
    const stop = new AbortController();
    let retryMs = 1000;
    setState({ service: undefined, instances: undefined, error: undefined });
    const run = async (): Promise<void> => {
      while (!stop.signal.aborted) {
        try {
          const listed = await client.listInstancesAt(grid, name);
          const { explanation: _explanation, ...read } = await client.getService(grid, name);
          let service: Service | null = read;
          const byId = new Map(listed.items.map((i) => [i.id, i]));
          setState({ service, instances: [...byId.values()], error: undefined });
          retryMs = 1000;
          let frame: number | undefined;
          for await (const event of client.watch({ fromRevision: listed.revision + 1, signal: stop.signal })) {
            if (event.kind === 'service' && event.object.grid === grid && event.object.name === name) {
              service = event.op === 'delete' ? null : event.object;
            } else if (event.kind === 'instance' && event.object.grid === grid && event.object.service === name) {
              if (event.op === 'delete') byId.delete(event.object.id);
              else byId.set(event.object.id, event.object);
            } else continue;
            frame ??= requestAnimationFrame(() => {
              frame = undefined;
              setState({ service, instances: [...byId.values()], error: undefined });
            });
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          if (isApiError(e, 'SERVICE_NOT_FOUND')) {
            setState({ service: null, instances: [], error: undefined });
            return;
          }
          setState((s) => ({ ...s, error: e instanceof Error ? e.message : String(e) }));
        }
        if (stop.signal.aborted) return;
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(retryMs * 2, 15_000);
      }
    };
    void run();
    return () => stop.abort();
  }, [client, grid, name]);
  return state;
}
