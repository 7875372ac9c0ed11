// Test program: answers every HTTP request with its instance id, and logs a numbered line every
// TICK_MS milliseconds (default: never). Exits on SIGTERM.
import { createServer } from 'node:http';
const id = process.env.BERTH_INSTANCE;
const server = createServer((req, res) => res.end(`${id}\n`));
server.listen(Number(process.env.PORT), process.env.BERTH_INSTANCE_IP, () => console.log(`${id} listening`));
const tick = Number(process.env.TICK_MS ?? 0);
let n = 0;
if (tick > 0) setInterval(() => console.log(`${id} line ${++n}`), tick);
process.on('SIGTERM', () => process.exit(0));
