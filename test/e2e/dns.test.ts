import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { cleanup, startBerth, waitFor, type RunningBerth } from './harness.js';
import { echoSpec } from './programs.js';

const execFileAsync = promisify(execFile);

describe('berth DNS, asked with dig', () => {
  let berth: RunningBerth;
  let server: string;
  let port: string;
  let upstream: dgram.Socket;
  before(async () => {
    // A resolver outside berth for names outside its zone: answers every A query with 127.1.2.3.
    upstream = dgram.createSocket('udp4');
    upstream.on('message', (msg, rinfo) => {
      const query = dnsPacket.decode(msg);
      const answer = dnsPacket.encode({
        id: query.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: query.questions,
        answers: (query.questions ?? []).map((q) => ({ name: q.name, type: 'A', class: 'IN', ttl: 60, data: '127.1.2.3' })),
      });
      upstream.send(answer, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));
    berth = await startBerth({ instanceRange: '127.11.10.0/24', env: { BERTH_DNS_UPSTREAMS: `127.0.0.1:${upstream.address().port}` } });
    const dns = (await berth.client.version()).dns;
    assert.ok(dns, 'the server reports its DNS address');
    [server, port] = dns.split(':') as [string, string];
  });
  after(async () => {
    await cleanup(berth);
    upstream.close();
  });

  const dig = (...args: string[]): string => execFileSync('dig', [`@${server}`, '-p', port, '+time=2', '+tries=1', ...args], { encoding: 'utf8' });
  const short = (...args: string[]): string[] => dig('+short', ...args).trim().split('\n').filter(Boolean);
  const running = async (name: string, n: number) =>
    waitFor(`${n} ${name} running`, async () => (await berth.client.listInstances('default', name, { active: true })).filter((i) => i.status.state === 'running').length === n);

  it('answers the service name with its VIP and web-2 with the second instance', async () => {
    const web = await berth.client.createService('default', { ...echoSpec('web', 2), ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, { deploy: true });
    await running('web', 2);
    assert.deepEqual(short('web.default.berth.local'), [web.spec.clusterIP]);
    const two = (await berth.client.listInstances('default', 'web', { active: true })).find((i) => i.slot === 2);
    assert.deepEqual(await waitFor('web-2 in DNS', () => (short('web-2.default.berth.local')[0] === two?.spec.address ? [two?.spec.address] : undefined)), [two?.spec.address]);
    const srv = short('SRV', '_http._tcp.web.default.berth.local');
    assert.equal(srv.length, 1);
    assert.match(srv[0] ?? '', /^\d+ \d+ 80 web\.default\.berth\.local\.$/);
  });

  it('gives a headless service every ready address, in varying order', async () => {
    await berth.client.createService('default', { ...echoSpec('peers', 3), clusterIP: 'None' }, { deploy: true });
    await running('peers', 3);
    const addresses = (await berth.client.listInstances('default', 'peers', { active: true })).map((i) => i.spec.address).sort();
    const orders = new Set<string>();
    await waitFor('all three in DNS', () => short('peers.default.berth.local').length === 3);
    for (let k = 0; k < 20; k++) {
      const answer = short('peers.default.berth.local');
      assert.deepEqual([...answer].sort(), addresses);
      orders.add(answer.join(','));
    }
    assert.ok(orders.size > 1, 'the order varies over 20 queries');
  });

  it('answers an ExternalName service with a CNAME and an unknown name with NXDOMAIN', async () => {
    await berth.client.createService('default', { name: 'ext', type: 'ExternalName', externalName: 'db.example.org', containers: [] });
    await waitFor('CNAME', () => dig('ext.default.berth.local').includes('CNAME'));
    assert.match(dig('ext.default.berth.local'), /ext\.default\.berth\.local\.\s+\d+\s+IN\s+CNAME\s+db\.example\.org\./);
    assert.match(dig('nosuch.default.berth.local'), /status: NXDOMAIN/);
  });

  it('forwards names outside its zone to the upstream resolvers', async () => {
    // Asynchronously: the upstream lives in this process, so dig must not block its event loop.
    const { stdout } = await execFileAsync('dig', [`@${server}`, '-p', port, '+time=2', '+tries=1', '+short', 'example.org']);
    assert.deepEqual(stdout.trim().split('\n'), ['127.1.2.3']);
  });

  it('drops a killed instance from DNS quickly', async () => {
    const victim = (await berth.client.listInstances('default', 'peers', { active: true }))[0];
    assert.ok(victim);
    process.kill(victim.status.containers?.[0]?.pid ?? 0, 'SIGKILL');
    await waitFor('the dead address gone from DNS', () => !short('peers.default.berth.local').includes(victim.spec.address), { timeoutMs: 3000, intervalMs: 10 });
  });
});
