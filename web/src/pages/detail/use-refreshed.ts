import { useEffect, useRef, useState } from 'react';

/** How long a burst of changes is let settle before one read (a rollout moves many instances at once). */
export const REFRESH_SETTLE_MS = 400;
/** …but a read is never put off longer than this while changes keep coming. */
export const REFRESH_MAX_WAIT_MS = 2000;

/**
 * A value read again each time `key` changes (not on a timer): the why panel, the endpoints and the
 * history follow the live service this way (docs/console.md, "Service detail"). A burst of changes within
 * REFRESH_SETTLE_MS is one read (at most REFRESH_MAX_WAIT_MS late); an older read that answers late never replaces a newer one.
 * `key` undefined: nothing is read yet. A failed read keeps the last value and reports its message.
 */
export function useRefreshed<T>(load: () => Promise<T>, key: string | undefined): { readonly value: T | undefined; readonly error: string | undefined } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const first = useRef(true);
  const waitingSince = useRef<number | undefined>(undefined);

  useEffect(() => {
    if (key === undefined) return;
    const mine = ++seq.current;
    const read = (): void => {
      waitingSince.current = undefined;
      loadRef.current().then(
        (v) => {
          if (mine !== seq.current) return;
          setValue(v);
          setError(undefined);
        },
        (e: unknown) => {
          if (mine === seq.current) setError(e instanceof Error ? e.message : String(e));
        },
      );
    };
    // The first read goes at once (the page opens with it); later ones wait for the burst to settle.
    if (first.current) {
      first.current = false;
      read();
      return;
    }
    const now = Date.now();
    waitingSince.current ??= now;
    const timer = setTimeout(read, Math.max(0, Math.min(REFRESH_SETTLE_MS, waitingSince.current + REFRESH_MAX_WAIT_MS - now)));
    return () => clearTimeout(timer);
  }, [key]);
  return { value, error };
}
