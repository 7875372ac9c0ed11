/** A client loop for zero-downtime tests: `concurrency` workers send GETs without pause, each on a new connection. */
import { request } from 'node:http';

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  /** The first few failures, for the assertion message. */
  readonly errors: readonly string[];
  /** Responses per body (the instance that answered). */
  readonly byInstance: ReadonlyMap<string, number>;
}

export interface Load {
  /** Requests answered so far. */
  ok(): number;
  /** Stops sending, waits for the requests in flight, and returns the tally. */
  stop(): Promise<LoadResult>;
}

function get(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}: ${body.trim()}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function startLoad(host: string, port: number, options: { concurrency?: number; timeoutMs?: number } = {}): Load {
  let running = true;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const byInstance = new Map<string, number>();
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const who = await get(host, port, options.timeoutMs ?? 5000);
        ok++;
        byInstance.set(who, (byInstance.get(who) ?? 0) + 1);
      } catch (error) {
        failed++;
        if (errors.length < 10) errors.push(`${new Date().toISOString()} ${(error as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: options.concurrency ?? 8 }, () => worker());
  return {
    ok: () => ok,
    async stop() {
      running = false;
      await Promise.all(workers);
      return { ok, failed, errors, byInstance };
    },
  };
}
