import { useEffect, useRef, useState } from 'react';
import type { Listed, WatchEvent } from '../../../src/client/index.js';
import { useSession } from './session.js';

/**
 * A list kept live (docs/console.md, "Live updates"): read once with its store revision, then
 * followed through `GET /v1/watch?fromRevision=revision+1` (Kubernetes' list-then-watch), so nothing
 * is missed and nothing polls. Changes are applied in batches at most once per animation frame. A
 * broken stream is re-listed and re-watched after 1 s, then 2, 4 … up to 15 s.
 * @param load   reads the list and its revision (`client.listServicesAt(grid)`)
 * @param keyOf  the identity of an item (`grid/name`, an instance id)
 * @param pick   the item a watch event puts or deletes, or undefined when the event is not for this list
 * @param deps   what `load` and `pick` depend on: a change re-lists
 */
export function useLiveList<T>(
  load: () => Promise<Listed<T>>,
  keyOf: (item: T) => string,
  pick: (event: WatchEvent) => { readonly op: 'put' | 'delete'; readonly item: T } | undefined,
  deps: readonly unknown[],
): { readonly items: readonly T[] | undefined; readonly error: string | undefined } {
  const { client } = useSession();
  const [items, setItems] = useState<readonly T[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const fns = useRef({ load, keyOf, pick });
  fns.current = { load, keyOf, pick };

  useEffect(() => {
    const stop = new AbortController();
    let retryMs = 1000;
    const run = async (): Promise<void> => {
      while (!stop.signal.aborted) {
        try {
          const listed = await fns.current.load();
          const byKey = new Map(listed.items.map((i) => [fns.current.keyOf(i), i]));
          setItems([...byKey.values()]);
          setError(undefined);
          retryMs = 1000;
          let frame: number | undefined;
          for await (const event of client.watch({ fromRevision: listed.revision + 1, signal: stop.signal })) {
            const change = fns.current.pick(event);
            if (!change) continue;
            const key = fns.current.keyOf(change.item);
            if (change.op === 'delete') byKey.delete(key);
            else byKey.set(key, change.item);
            frame ??= requestAnimationFrame(() => {
              frame = undefined;
              setItems([...byKey.values()]);
            });
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          setError(e instanceof Error ? e.message : String(e));
        }
        if (stop.signal.aborted) return;
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(retryMs * 2, 15_000);
      }
    };
    void run();
    return () => stop.abort();
  }, [client, ...deps]);
  return { items, error };
}
