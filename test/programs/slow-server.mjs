// Test program: an HTTP server that answers every request after 200-500 ms (DELAY_MS=min-max) with its
// instance id, and /health at once (with HEALTH_STATUS, e.g. 503, /health answers that status and
// "warming up"). It exits AT ONCE on SIGTERM, dropping whatever is in flight: a
// request that fails during a rollout proves berth sent the stop signal before the instance drained.
import { createServer } from 'node:http';
const id = process.env.BERTH_INSTANCE;
const [min, max] = (process.env.DELAY_MS ?? '200-500').split('-').map(Number);
const server = createServer((req, res) => {
  if (req.url === '/health') {
    if (process.env.HEALTH_STATUS) res.statusCode = Number(process.env.HEALTH_STATUS);
    return res.end(process.env.HEALTH_STATUS ? 'warming up\n' : 'ok\n');
  }
  const delay = min + Math.random() * ((max ?? min) - min);
  setTimeout(() => res.end(`${id}\n`), delay);
});
server.listen(Number(process.env.PORT ?? 8080), process.env.BERTH_INSTANCE_IP, () => console.log(`${id} listening`));
process.on('SIGTERM', () => process.exit(0));
