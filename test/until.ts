/**
 * Polls `probe` every 5 ms until it returns something truthy, and resolves with it; after `timeoutMs`
 * (default 5 s) rejects with `timed out waiting for <what>`. For in-process tests (the e2e tests'
 * async probes with intervals use test/e2e/harness.ts `waitFor`).
 */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
