// The front end: a page that asks the API tier (round robin over its instances) who served it.
import { createServer } from 'node:http';
import { call } from './discover.mjs';

const page = (body) => `<!doctype html><meta charset="utf-8"><title>berth shop</title>
<style>body{font:16px system-ui;margin:3rem}code{background:#eee;padding:2px 4px}</style>
<h1>berth example shop</h1>${body}<p><a href="/">again</a></p>`;

const server = createServer(async (req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok\n');
  try {
    const reply = await call('api', 8080, '/api/hello');
    const answer = JSON.parse(reply.body);
    if (req.url === '/json') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ web: process.env.BERTH_INSTANCE, ...answer }));
    res.writeHead(200, { 'content-type': 'text/html' }).end(page(
      `<p>page by <code>${process.env.BERTH_INSTANCE}</code>, answer by <code>${answer.servedBy.instance}</code> at ${answer.servedBy.address}</p>
       <p>visits so far (kept by the stateful store): <b>${answer.visits ?? '?'}</b></p>`));
  } catch (e) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end(`api unreachable: ${e.message}\n`);
  }
});

server.listen(Number(process.env.PORT), process.env.BERTH_INSTANCE_IP, () => {
  console.log(`web ${process.env.BERTH_INSTANCE} listening on http://${process.env.BERTH_INSTANCE_IP}:${process.env.PORT}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
