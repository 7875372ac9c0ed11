/**
 * A client that sends HTTP GETs without pause from `concurrency` workers, each request on a new
 * connection (as wget does on the Swarm side), and counts what failed: connection errors, resets,
 * timeouts and non-2xx answers. Used by the zero-downtime bench against berth's virtual IP.
 */
import http from 'node:http';

export interface LoopCounts {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  /** Failures by kind: "ECONNREFUSED", "ECONNRESET", "HTTP 503", "timeout"… */
  readonly byKind: Readonly<Record<string, number>>;
}

export class RequestLoop {
  private running = false;
  private workers: Promise<void>[] = [];
  private ok = 0;
  private failed = 0;
  private readonly byKind: Record<string, number> = {};

  constructor(
    private readonly target: { readonly host: string; readonly port: number; readonly path: string },
    private readonly options: { readonly concurrency: number; readonly timeoutMs: number },
  ) {}

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.options.concurrency }, () => this.worker());
  }

  /** Stops sending; resolves with the counts once the requests in flight ended. */
  async stop(): Promise<LoopCounts> {
    this.running = false;
    await Promise.all(this.workers);
    return this.counts();
  }

  counts(): LoopCounts {
    return { total: this.ok + this.failed, ok: this.ok, failed: this.failed, byKind: { ...this.byKind } };
  }

  private async worker(): Promise<void> {
    while (this.running) {
      const kind = await this.once();
      if (kind === undefined) this.ok++;
      else {
        this.failed++;
        this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
      }
    }
  }

  /** One request; undefined when it succeeded, else the kind of failure. */
  private once(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const req = http.get({ host: this.target.host, port: this.target.port, path: this.target.path, agent: false, headers: { connection: 'close' }, timeout: this.options.timeoutMs }, (res) => {
        res.resume();
        res.once('error', () => undefined); // reported by 'close' below
        // An answer cut short (the backend died after its headers) is a failure too.
        res.once('close', () => {
          if (!res.complete) resolve('cut short');
          else resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? undefined : `HTTP ${res.statusCode ?? '?'}`);
        });
      });
      req.once('timeout', () => {
        req.destroy(new Error('timeout'));
      });
      req.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  }
}
