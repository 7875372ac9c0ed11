import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import type { ServiceEndpoints } from '../model/index.js';
import { service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('berth networking commands against a stub API', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });

  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  const withEndpoints = (name: string, fields: Partial<ServiceEndpoints>): void => {
    stub.endpoints.set(`default/${name}`, {
      grid: 'default',
      service: name,
      type: 'ClusterIP',
      headless: false,
      externalIPs: [],
      loadBalancerIPs: [],
      ports: [],
      endpoints: [],
      sessionAffinity: { type: 'None' },
      publishNotReadyAddresses: false,
      ...fields,
    });
  };

  describe('service create and update', () => {
    it('sends the network flags in the spec', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'srv', '--type', 'NodePort', '--port', 'http:80:8080:30080', '--session-affinity', 'ClientIP']);
      assert.equal(r.code, 0, r.stderr);
      const spec = (stub.writes[0]?.body as { spec: Record<string, unknown> }).spec;
      assert.equal(spec['type'], 'NodePort');
      assert.deepEqual(spec['ports'], [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }]);
      assert.equal(spec['sessionAffinity'], 'ClientIP');
    });

    it('exits 2 naming the flag for a bad --port, sending nothing', async () => {
      const r = await run(['service', 'create', 'web', '--cmd', 'srv', '--port', 'http:80:8080:99999']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /option '--port .*' argument 'http:80:8080:99999' is invalid\. .*node port must be a number 1-65535/);
      assert.equal(stub.writes.length, 0);
    });

    it('switches a stored service to LoadBalancer keeping its ports', async () => {
      stub.seed(service({ spec: { name: 'web', clusterIP: '127.96.0.3', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } }));
      const r = await run(['service', 'update', 'web', '--type', 'LoadBalancer']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(stub.service('web')?.spec.type, 'LoadBalancer');
      assert.deepEqual(stub.service('web')?.spec.ports, [{ port: 80, targetPort: 8080, protocol: 'TCP' }]);
    });
  });

  describe('service ls', () => {
    it('shows type, cluster IP, the load balancer address and kubectl-style ports', async () => {
      stub.seed(service({ spec: { name: 'edge', type: 'LoadBalancer', clusterIP: '127.96.0.8', ports: [{ port: 80, targetPort: 80, nodePort: 30000, protocol: 'TCP' }] } }));
      stub.seed(service({ spec: { name: 'web', clusterIP: '127.96.0.9', ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] } }));
      const r = await run(['service', 'ls']);
      assert.equal(r.code, 0, r.stderr);
      const [head, edge, web] = r.stdout.trim().split('\n');
      assert.match(head ?? '', /TYPE +CLUSTER-IP +EXTERNAL-IP +PORTS +AGE$/);
      assert.match(edge ?? '', /LoadBalancer +127\.96\.0\.8 +127\.0\.0\.1 +80:30000\/TCP/);
      assert.match(web ?? '', /ClusterIP +127\.96\.0\.9 +<none> +80\/TCP/);
      assert.deepEqual(stub.requests.filter((q) => q.path.endsWith('/endpoints')).map((q) => q.path), ['/v1/grids/default/services/edge/endpoints']);
    });

    it('shows a published port as docker service ls does', async () => {
      stub.seed(service({ spec: { name: 'nginx', clusterIP: '127.96.0.9', ports: [{ port: 80, targetPort: 80, published: 38080, protocol: 'TCP' }] } }));
      const r = await run(['service', 'ls']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /ClusterIP +127\.96\.0\.9 +<none> +\*:38080->80\/TCP/);
    });

    it('shows <pending> when the server has no endpoints route', async () => {
      stub.endpointsRoute = false;
      stub.seed(service({ spec: { name: 'edge', type: 'LoadBalancer', clusterIP: '127.96.0.8' } }));
      const r = await run(['service', 'ls']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /LoadBalancer +127\.96\.0\.8 +<pending>/);
    });
  });

  describe('service show', () => {
    it('has a network section with the VIP, ports, affinity and the ready and not-ready endpoints', async () => {
      stub.seed(service({
        spec: {
          name: 'web',
          type: 'NodePort',
          clusterIP: '127.96.0.1',
          ports: [{ name: 'http', port: 80, targetPort: 'web', nodePort: 30080, protocol: 'TCP' }],
          externalIPs: ['127.0.0.9'],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        },
      }));
      withEndpoints('web', {
        endpoints: [
          { ip: '127.10.0.2', ports: { http: 8080 }, ready: true, slot: 1 },
          { ip: '127.10.0.3', ports: { http: 8080 }, ready: true, slot: 2 },
          { ip: '127.10.0.4', ports: { http: 8080 }, ready: false, slot: 3 },
        ],
      });
      const r = await run(['service', 'show', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          [
            ' {2}network:',
            ' {4}type: NodePort',
            ' {4}virtual IP: 127\\.96\\.0\\.1',
            ' {4}ports:',
            ' {6}- http: 80 → web/tcp \\(node port 30080\\)',
            ' {4}external IPs: 127\\.0\\.0\\.9',
            ' {4}session affinity: ClientIP \\(timeout 600s\\)',
            ' {4}endpoints: 127\\.10\\.0\\.2:8080, 127\\.10\\.0\\.3:8080',
            ' {4}not ready: 127\\.10\\.0\\.4:8080',
            ' {2}containers:',
          ].join('\\n'),
        ),
      );
    });

    it('shows a published port next to the service port, and the docker container fields', async () => {
      stub.seed(service({
        spec: {
          name: 'nginx',
          clusterIP: '127.96.0.1',
          ports: [{ port: 80, targetPort: 80, published: 38080, protocol: 'TCP' }],
          containers: [{
            name: 'nginx', image: 'nginx:1.27', imagePullPolicy: 'IfNotPresent', args: [], env: [], ports: [], stopSignal: 'SIGTERM', stopGracePeriod: '10s',
            hostname: 'web', labels: { 'com.example.tier': 'front' },
            mounts: [{ type: 'bind', source: '/srv/site', target: '/site', readOnly: true }, { type: 'volume', target: '/data', readOnly: false }, { type: 'tmpfs', target: '/tmp', readOnly: false, tmpfsSize: 64 * 1024 * 1024 }],
            resources: { limits: { cpus: 1.5, memory: 256 * 1024 * 1024 }, reservations: { cpus: 1 } },
          }],
        },
      }));
      const r = await run(['service', 'show', 'nginx']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, / {6}- 80 → 80\/tcp \(published on the node at 38080\)\n/);
      assert.match(
        r.stdout,
        new RegExp(
          [
            ' {6}image: nginx:1\\.27 \\(pull: IfNotPresent\\)',
            ' {6}command: - \\(the image default\\)',
            ' {6}hostname: web',
            ' {6}labels: com\\.example\\.tier=front',
            ' {6}mount: bind /srv/site → /site \\(read-only\\)',
            ' {6}mount: volume \\(per slot when stateful, else anonymous\\) → /data',
            ' {6}mount: tmpfs 64Mi → /tmp',
            ' {6}limits: 1\\.5 CPUs, 256Mi memory',
            ' {6}reservations: 1 CPU',
          ].join('\n'),
        ),
      );
    });

    it('says headless for clusterIP None and the CNAME target for ExternalName', async () => {
      stub.seed(service({ spec: { name: 'db', clusterIP: 'None' } }));
      stub.seed(service({ spec: { name: 'mail', type: 'ExternalName', externalName: 'mail.example.org' } }));
      assert.match((await run(['service', 'show', 'db'])).stdout, / {4}virtual IP: none \(headless: DNS answers with the instance addresses\)\n/);
      const mail = (await run(['service', 'show', 'mail'])).stdout;
      assert.match(mail, / {4}external name: mail\.example\.org \(DNS answers with a CNAME\)\n/);
      assert.doesNotMatch(mail, /endpoints:/);
    });

    it('says endpoints: unknown when the server has no endpoints route', async () => {
      stub.endpointsRoute = false;
      stub.seed(service({ spec: { name: 'web', clusterIP: '127.96.0.1' } }));
      const r = await run(['service', 'show', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, / {4}endpoints: unknown \(the server has no endpoints route\)\n/);
    });
  });

  describe('endpoints ls and set', () => {
    it('lists every service with the first three ready addresses, a count of the rest, and the not-ready ones', async () => {
      stub.seed(service({ spec: { name: 'api' } }));
      stub.seed(service({ spec: { name: 'web' } }));
      withEndpoints('web', {
        endpoints: [2, 3, 4, 5, 6].map((n) => ({ ip: `127.10.0.${n}`, ports: { '': 8080 }, ready: n !== 6 })),
      });
      const r = await run(['endpoints', 'ls']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), [
        'SERVICE   ENDPOINTS                                                     NOT READY',
        'api       <none>                                                        <none>',
        'web       127.10.0.2:8080,127.10.0.3:8080,127.10.0.4:8080 + 1 more...   127.10.0.6:8080',
      ]);
      const one = await run(['endpoints', 'ls', 'api', '-o', 'json']);
      assert.equal((JSON.parse(one.stdout) as ServiceEndpoints).service, 'api');
    });

    it('puts hand-set addresses and prints them', async () => {
      stub.seed(service({ spec: { name: 'db', ports: [{ port: 5432, targetPort: 5432, protocol: 'TCP' }] } }));
      const r = await run(['endpoints', 'set', 'db', '127.0.0.5:5432', '127.0.0.6']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^endpoints of service db set: 127\.0\.0\.5:5432, 127\.0\.0\.6 \(version \d+\)\n$/);
      assert.deepEqual(stub.writes[0]?.body, { addresses: ['127.0.0.5:5432', '127.0.0.6'] });
      const ls = await run(['endpoints', 'ls', 'db']);
      assert.match(ls.stdout, /db +127\.0\.0\.5:5432,127\.0\.0\.6:5432 +<none>/);
    });

    it('exits 2 for an address that is not IP[:PORT], sending nothing', async () => {
      const r = await run(['endpoints', 'set', 'db', 'db.local:5432']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /value 'db\.local:5432' is invalid for argument 'address'\. "db\.local:5432": expected IP or IP:PORT/);
      assert.equal(stub.writes.length, 0);
    });
  });

  describe('dns lookup', () => {
    /** A tiny responder: A for web.default.berth.local, SRV for _http._tcp.web, NXDOMAIN otherwise; silent for "slow". */
    const responder = createSocket('udp4');
    const asked: string[] = [];
    let dnsAddress = '';
    before(async () => {
      responder.on('message', (message, peer) => {
        const query = dnsPacket.decode(message);
        const q = query.questions?.[0];
        if (!q) return;
        asked.push(`${q.name} ${q.type}`);
        if (q.name.startsWith('slow.')) return;
        if (q.name.startsWith('late.')) {
          // As berth's DNS answers a forwarded name whose upstream stays silent: SERVFAIL after its 2 s.
          setTimeout(() => responder.send(dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags: 2, questions: [q], answers: [] }), peer.port, peer.address), 2100);
          return;
        }
        const answers: dnsPacket.Answer[] = [];
        if (q.name === 'web.default.berth.local' && q.type === 'A') answers.push({ name: q.name, type: 'A', ttl: 5, class: 'IN', data: '127.96.0.1' });
        if (q.name === '_http._tcp.web.default.berth.local') answers.push({ name: q.name, type: 'SRV', ttl: 5, class: 'IN', data: { priority: 0, weight: 100, port: 80, target: 'web.default.berth.local' } });
        const known = answers.length > 0 || q.name === 'web.default.berth.local';
        const reply = dnsPacket.encode({ type: 'response', id: query.id ?? 0, flags: known ? 0 : 3, questions: [q], answers });
        responder.send(reply, peer.port, peer.address);
      });
      responder.bind(0, '127.0.0.1');
      await once(responder, 'listening');
      dnsAddress = `127.0.0.1:${(responder.address() as AddressInfo).port}`;
    });
    after(() => responder.close());

    it('asks the DNS server the berth server reports, qualifying a bare service name with the grid', async () => {
      stub.dns = dnsAddress;
      const r = await run(['dns', 'lookup', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'web.default.berth.local.  5  IN  A  127.96.0.1\n');
    });

    it('prints SRV records with --dns, and takes a dotted name as given', async () => {
      const r = await run(['dns', 'lookup', '--dns', dnsAddress, '_http._tcp.web.default.berth.local', 'srv']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '_http._tcp.web.default.berth.local.  5  IN  SRV  0 100 80 web.default.berth.local.\n');
      assert.equal(asked[asked.length - 1], '_http._tcp.web.default.berth.local SRV');
    });

    it('prints the rcode and exits 1 on NXDOMAIN', async () => {
      const r = await run(['dns', 'lookup', '--dns', dnsAddress, 'nope', '--grid', 'shop']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'error: nope.shop.berth.local A: NXDOMAIN\n');
    });

    it('exits 1 when no answer comes within the timeout', async () => {
      const r = await run(['dns', 'lookup', '--dns', dnsAddress, 'slow', '--timeout', '100ms']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: slow\.default\.berth\.local A: no answer from the DNS server at 127\.0\.0\.1:\d+ within 0\.1 s\n$/);
    });

    it("waits longer by default than berth's DNS waits for an upstream, so a silent upstream is the server's SERVFAIL, not a timeout", async () => {
      const r = await run(['dns', 'lookup', '--dns', dnsAddress, 'late.example.org']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'error: late.example.org A: SERVFAIL\n');
    });

    it('says how to start DNS when the server runs none', async () => {
      const r = await run(['dns', 'lookup', 'web']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /runs no DNS server: start it with `berth server --dns 127\.0\.0\.1:5353`, or pass --dns HOST:PORT/);
    });
  });
});
