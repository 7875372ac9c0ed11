// Bench backend for zero-downtime runs: answers every request with "ok" after a delay drawn from the
// query's ms=LOW-HIGH (default 200-500 ms), so requests are in flight on an instance that is being
// stopped; /healthz answers at once (readiness probe). The status line and headers (with
// Content-Length) leave at once and the body after the delay: a request in flight has already sent
// bytes to the client, so no proxy can replay it elsewhere, and a stop cuts it short. Deliberately
// naive: no SIGTERM handler, so the stop signal ends the process and whatever it was serving — only
// an orchestrator that drains first keeps those requests. bench/swarm.ts's CGI script does the same.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://backend');
  if (url.pathname === '/healthz') return res.end('ok\n');
  const [lo, hi] = (url.searchParams.get('ms') ?? '200-500').split('-').map(Number);
  const low = Number.isFinite(lo) ? lo : 200;
  const high = Number.isFinite(hi) ? hi : low;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
  res.flushHeaders();
  setTimeout(() => res.end('ok\n'), low + Math.floor(Math.random() * (high - low + 1)));
});
server.listen(Number(process.env.PORT ?? 8080), process.env.BIND ?? process.env.BERTH_INSTANCE_IP ?? '127.0.0.1');
