// A tiny durable key-value store: the stateful service of the example. Its data lives in
// BERTH_DATA_DIR, which berth keeps for the slot across restarts and redeploys.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const file = join(process.env.BERTH_DATA_DIR ?? '.', 'data.json');
let data = {};
try {
  data = JSON.parse(readFileSync(file, 'utf8'));
  console.log(`loaded ${Object.keys(data).length} key(s) from ${file}`);
} catch {
  console.log(`starting empty at ${file}`);
}

function save() {
  writeFileSync(`${file}.tmp`, JSON.stringify(data));
  renameSync(`${file}.tmp`, file);
}

const server = createServer((req, res) => {
  const m = /^\/(kv|incr)\/([\w.-]+)$/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404).end('not found\n');
    return;
  }
  const [, op, key] = m;
  if (op === 'incr' && req.method === 'POST') {
    data[key] = (Number(data[key]) || 0) + 1;
    save();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ key, value: data[key] }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ key, value: data[key] ?? null }));
});

server.listen(Number(process.env.PORT), process.env.BERTH_INSTANCE_IP, () => {
  console.log(`store ${process.env.BERTH_INSTANCE} listening on ${process.env.BERTH_INSTANCE_IP}:${process.env.PORT}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
