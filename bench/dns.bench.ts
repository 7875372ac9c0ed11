/**
 * berth's DNS server against dnsmasq, issue 3 "Performance": dnsperf for 10 s (its defaults: one client,
 * 100 queries outstanding, UDP) on the same names, side by side in one run:
 *  - berth: a real `berth server` (its DNS address from /v1/version) with a few services, so that
 *    `<service>.default.berth.local` names exist;
 *  - dnsmasq on another loopback port answering the same names with the same addresses (`--address`).
 * Goal: ≥ 0.6× dnsmasq's queries/s with no lost queries. Issue 3's reference: dnsmasq ~61k QPS.
 *
 * Needs: apt-get install -y dnsperf dnsmasq
 * Run: npm run bench -- dns   (or: node --import tsx bench/dns.bench.ts; BENCH_SECONDS=3 for a quick look)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { startBerth, type RunningBerth } from '../test/e2e/harness.js';
import { Children, freePort, lpad, pad, requireTools, runTool } from './bench-tools.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const HOST = '127.0.0.1';
const SERVICES = ['web', 'api', 'db', 'cache', 'queue'];
const DOMAIN = 'default.berth.local';

interface PerfResult {
  readonly qps: number;
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly avgLatencyMs: number;
}

/** Figures from dnsperf's summary. */
export function parseDnsperf(out: string): PerfResult {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

async function dnsperf(port: number, queryFile: string, seconds: number): Promise<PerfResult> {
  return parseDnsperf(await runTool('dnsperf', ['-s', HOST, '-p', String(port), '-d', queryFile, '-l', String(seconds)], (seconds + 30) * 1000));
}

/** One A query over UDP; resolves with the first answer's address (or undefined), rejects after 2 s. */
function lookupA(port: number, name: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no answer for ${name} from ${HOST}:${port}`));
    }, 2000);
    socket.once('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      const answer = dnsPacket.decode(msg).answers?.find((a) => a.type === 'A');
      resolve(answer !== undefined && 'data' in answer ? String(answer.data) : undefined);
    });
    socket.send(dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), port, HOST);
  });
}

async function waitAnswers(port: number, name: string, want: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await lookupA(port, name).catch(() => undefined);
    if (got === want) return;
    if (Date.now() > deadline) throw new Error(`${HOST}:${port} does not answer ${name} with ${want} (got ${got})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  requireTools([
    ['dnsperf', 'dnsperf'],
    ['dnsmasq', 'dnsmasq'],
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'berth-dns-bench-'));
  const children = new Children();
  let berth: RunningBerth | undefined;
  try {
    berth = await startBerth({ instanceRange: '127.16.0.0/16' });
    const addresses = new Map<string, string>();
    for (const name of SERVICES) {
      const svc = await berth.client.createService('default', { name, containers: [], endpoints: [], ports: [{ port: 80 }] });
      addresses.set(`${name}.${DOMAIN}`, svc.spec.clusterIP as string);
    }
    const dns = (await berth.client.version()).dns;
    if (dns === undefined) throw new Error('the server reports no DNS address');
    const berthPort = Number(dns.slice(dns.lastIndexOf(':') + 1));

    const dnsmasqPort = await freePort();
    children.start('dnsmasq', [
      '--no-daemon',
      '--port',
      String(dnsmasqPort),
      '--listen-address',
      HOST,
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ...[...addresses].map(([name, ip]) => `--address=/${name}/${ip}`),
    ]);
    for (const [name, ip] of addresses) {
      await waitAnswers(berthPort, name, ip);
      await waitAnswers(dnsmasqPort, name, ip);
    }

    const queryFile = join(dir, 'queries.txt');
    writeFileSync(queryFile, [...addresses.keys()].map((n) => `${n} A\n`).join(''));
    // Warm up both (JIT, socket buffers), then measure each for SECONDS.
    await dnsperf(berthPort, queryFile, 1);
    await dnsperf(dnsmasqPort, queryFile, 1);
    const mine = await dnsperf(berthPort, queryFile, SECONDS);
    const peer = await dnsperf(dnsmasqPort, queryFile, SECONDS);

    console.log(`dns: dnsperf -l ${SECONDS} (1 client, 100 outstanding, UDP), A queries for ${addresses.size} service names, 2 cores shared by everything`);
    console.log(`  ${pad('server', 12)}${lpad('QPS', 10)}${lpad('sent', 11)}${lpad('completed', 11)}${lpad('lost', 7)}${lpad('avg latency', 14)}`);
    for (const [name, r] of [
      ['dnsmasq', peer],
      ['berth', mine],
    ] as const) {
      console.log(`  ${pad(name, 12)}${lpad(r.qps.toFixed(0), 10)}${lpad(String(r.sent), 11)}${lpad(String(r.completed), 11)}${lpad(String(r.lost), 7)}${lpad(`${r.avgLatencyMs.toFixed(3)} ms`, 14)}`);
    }
    const ratio = mine.qps / peer.qps;
    const ok = ratio >= 0.6 && mine.lost === 0;
    console.log(`ratio berth/dnsmasq: ${ratio.toFixed(2)}x QPS (goal ≥ 0.6x), berth lost ${mine.lost} (goal 0) ${ok ? 'met' : 'MISSED'}`);
    console.log('  issue 3 reference: dnsmasq ~61k QPS');
  } finally {
    if (berth !== undefined) {
      for (const name of SERVICES) await berth.client.removeService('default', name).catch(() => undefined);
      await berth.stop();
      rmSync(berth.dataDir, { recursive: true, force: true });
    }
    await children.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
