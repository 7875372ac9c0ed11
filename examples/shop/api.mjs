// The API tier: every answer names the instance that served it, and counts visits in the store.
import { createServer } from 'node:http';
import { call } from './discover.mjs';

const me = { instance: process.env.BERTH_INSTANCE, slot: Number(process.env.BERTH_SLOT), address: process.env.BERTH_INSTANCE_IP };

const server = createServer(async (req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok\n');
  if (req.url !== '/api/hello') return res.writeHead(404).end('not found\n');
  try {
    const answer = await call('store', 7000, '/incr/visits', 'POST');
    if (answer.status !== 200) throw new Error(`store answered ${answer.status}`);
    const visits = JSON.parse(answer.body);
    console.log(`hello #${visits.value} served by ${me.instance}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ servedBy: me, visits: visits.value }));
  } catch (e) {
    console.error(`store unreachable: ${e.message}`);
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ servedBy: me, error: `store unreachable: ${e.message}` }));
  }
});

server.listen(Number(process.env.PORT), process.env.BERTH_INSTANCE_IP, () => {
  console.log(`api ${me.instance} listening on ${me.address}:${process.env.PORT}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
