/**
 * Programs the container tests run inside the locally built images (scripts/build-images.sh), as
 * `node -e SCRIPT` in node:local or `sh -c SCRIPT` in busybox:local: the images hold no test files, and
 * a bind mount of test/programs would tie the tests to the server's instance policy. Scripts use
 * double quotes only, so `--cmd "node -e '…'"` carries them through the CLI's shell-word split.
 */

/**
 * A "redis-like" key-value store on port 6379 keeping its data in /data (the slot's volume): `PUT /KEY`
 * stores the body, `GET /KEY` answers `{ value, starts, host }` — `starts` counts the program's starts
 * on this volume, so a test sees that a restart really happened on the same data.
 */
export const KV_STORE = [
  'const http = require("http"), fs = require("fs"), os = require("os");',
  'const file = "/data/kv.json";',
  'let kv = {};',
  'try { kv = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}',
  'fs.appendFileSync("/data/starts", "start\\n");',
  'const starts = fs.readFileSync("/data/starts", "utf8").trim().split("\\n").length;',
  'console.log("kv: start " + starts + ", " + Object.keys(kv).length + " key(s) in " + file);',
  'http.createServer((req, res) => {',
  '  const key = req.url.slice(1);',
  '  if (req.method === "PUT") {',
  '    let body = "";',
  '    req.on("data", (c) => (body += c));',
  '    req.on("end", () => { kv[key] = body; fs.writeFileSync(file + ".tmp", JSON.stringify(kv)); fs.renameSync(file + ".tmp", file); res.end("OK\\n"); });',
  '    return;',
  '  }',
  '  res.end(JSON.stringify({ value: kv[key] ?? null, starts, host: os.hostname() }));',
  '}).listen(6379);',
  'process.on("SIGTERM", () => process.exit(0));',
].join('\n');

/**
 * An HTTP server on $PORT (default 8080) answering `/health` with 200 at once and every other path with
 * its hostname and $VERSION (default 1) after $DELAY_MS (default 0); it stops at once on SIGTERM (the drain before the stop signal is berth's job, as with test/programs/slow-server.mjs).
 * It answers clients that half-close after their request, as busybox's `nc` does.
 */
export const HTTP_APP = [
  'const http = require("http"), os = require("os");',
  'const delay = Number(process.env.DELAY_MS || 0);',
  'const server = http.createServer((req, res) => {',
  '  if (req.url === "/health") { res.end("ok\\n"); return; }',
  '  setTimeout(() => res.end(os.hostname() + " " + (process.env.VERSION || "1") + "\\n"), delay);',
  '});',
  // busybox nc half-closes once it sent the request: answer anyway (Node's http server would hang up).
  'server.httpAllowHalfOpen = true;',
  'server.listen(Number(process.env.PORT || 8080), () => console.log("app listening on " + (process.env.PORT || 8080)));',
  'process.on("SIGTERM", () => process.exit(0));',
].join('\n');
