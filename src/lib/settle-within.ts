/** How a promise stood when `settleWithin` stopped waiting for it. */
export type Settled<T> = { state: 'fulfilled'; value: T } | { state: 'rejected'; error: unknown } | { state: 'pending' };

/**
 * Waits up to `ms` milliseconds for `promise`; `pending` when it has not settled by then (it keeps
 * running). Never rejects: a rejection comes back as `{ state: 'rejected', error }`.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ state: 'fulfilled', value }),
        (error: unknown): Settled<T> => ({ state: 'rejected', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
