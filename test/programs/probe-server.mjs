// Test program for probes and drains: an HTTP server on $BERTH_INSTANCE_IP:$PORT.
//   GET /health, GET /live      answer 200 "ok" until set otherwise (readiness and liveness endpoints)
//   GET /admin/health?status=503&body=…, GET /admin/live?status=500&body=…   set what they answer
//   any other path              answers 200 at once with the status line, headers and "<instance id> ",
//                               then the rest of the body ("done\n") after DELAY_MS milliseconds
// It exits AT ONCE on SIGTERM, cutting every response in flight: as the first bytes were sent, a proxy
// cannot replay such a request elsewhere — a request that fails proves the stop signal came before the
// instance drained.
import { createServer } from 'node:http';

const id = process.env.BERTH_INSTANCE ?? 'unknown';
const delayMs = Number(process.env.DELAY_MS ?? 0);
const answers = { health: { status: 200, body: 'ok' }, live: { status: 200, body: 'ok' } };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const which = url.pathname.slice(1);
  if (which === 'health' || which === 'live') return res.writeHead(answers[which].status).end(answers[which].body);
  const admin = /^\/admin\/(health|live)$/.exec(url.pathname);
  if (admin) {
    answers[admin[1]] = { status: Number(url.searchParams.get('status') ?? 200), body: url.searchParams.get('body') ?? '' };
    return res.end('set\n');
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.write(`${id} `);
  setTimeout(() => res.end('done\n'), delayMs);
});
server.listen(Number(process.env.PORT ?? 8080), process.env.BERTH_INSTANCE_IP, () => console.log(`${id} listening`));
process.on('SIGTERM', () => process.exit(0));
