import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { instance, service } from './testing/fixtures.js';
import type { RunOptions } from './testing/run-cli.js';
import { CapturedStream, FakeInterrupts, runCli } from './testing/run-cli.js';
import { StubApi } from './testing/stub-api.js';

describe('berth service commands that read, and connection errors, against a stub API', () => {
  const stub = new StubApi();
  const run = (args: string[], options: RunOptions = {}) => runCli(args, { ...options, env: { BERTH_HOST: stub.url, ...options.env } });

  before(() => stub.start());
  after(() => stub.stop());
  beforeEach(() => stub.reset());

  describe('show, ps, logs, events, stats', () => {
    it('show right after create has no instances and says how to deploy', async () => {
      stub.seed(service({ spec: { name: 'web', labels: { tier: 'front' } } }));
      const r = await run(['service', 'show', 'web']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^web:\n {2}grid: default\n {2}state: initialized \(0\/0 instances running\)\n/);
      assert.match(r.stdout, / {2}deployed generation: none \(not deployed\)\n/);
      assert.match(r.stdout, / {4}web:\n {6}image: - \(runs as a process\)\n {6}command: node server\.js\n/);
      assert.match(r.stdout, / {2}restart policy: any, delay 5s, max attempts unlimited\n/);
      assert.match(r.stdout, / {2}instances: none \(not deployed: run `berth service deploy web`\)\n$/);
    });

    it('show lists the instances of a deployed service and prints YAML with -o yaml', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }), [instance({ slot: 1 }), instance({ slot: 2 })]);
      const r = await run(['service', 'show', 'web']);
      assert.match(r.stdout, / {2}instances:\n {4}web-1:\n {6}id: web-1-a1b2\n {6}state: running/);
      assert.match(r.stdout, / {4}web-2:\n/);
      const yaml = await run(['service', 'show', 'web', '-o', 'yaml']);
      assert.match(yaml.stdout, /^id: svc-web\ngrid: default\nname: web\n/);
    });

    it('ps shows active instances, and terminated ones with -a', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }), [
        instance({ slot: 1, id: 'web-1-new' }),
        instance({ slot: 1, id: 'web-1-old', state: 'failed', exitCode: 137 }),
      ]);
      const now = Date.parse('2026-11-21T15:02:00.000Z');
      const active = await run(['service', 'ps', 'web'], { now });
      assert.deepEqual(active.stdout.trimEnd().split('\n'), [
        'NAME    ID          STATE     HEALTH   DESIRED   ADDRESS      PID   RESTARTS   STARTED/EXIT',
        'web-1   web-1-new   running   -        running   127.10.0.2   -     0          started 2m ago',
      ]);
      const all = await run(['service', 'ps', 'web', '-a'], { now });
      assert.match(all.stdout, /web-1 {3}web-1-old {3}failed {4}- {8}shutdown  +127\.10\.0\.2 {3}- {5}0 {10}exit 137, 2m ago/);
    });

    it('ps shows a slot whose instance ended and waits for its restart (desired running), not older history', async () => {
      stub.seed(service({ spec: { name: 'web', replicas: 2 }, deployedGeneration: 1 }), [
        instance({ slot: 1, id: 'web-1-live' }),
        { ...instance({ slot: 2, id: 'web-2-crashed', state: 'failed', exitCode: 137 }), desiredState: 'running', createdAt: '2026-11-21T15:00:30.000Z' },
        instance({ slot: 2, id: 'web-2-older', state: 'failed', exitCode: 1 }),
        instance({ slot: 3, id: 'web-3-scaled-away', state: 'shutdown' }),
      ]);
      const r = await run(['service', 'ps', 'web'], { now: Date.parse('2026-11-21T15:02:00.000Z') });
      const lines = r.stdout.trimEnd().split('\n');
      assert.deepEqual(lines.map((l) => l.split(/ +/).slice(0, 5).join(' ')), [
        'NAME ID STATE HEALTH DESIRED',
        'web-1 web-1-live running - running',
        'web-2 web-2-crashed failed - running',
      ]);
      assert.match(lines[2] ?? '', /exit 137, 2m ago$/);
    });

    it('ps shows the NODE column once the instances are on more than one node', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }), [instance({ slot: 1, id: 'web-1-a', node: 'vm-a' }), instance({ slot: 2, id: 'web-2-b', node: 'vm-b' })]);
      const r = await run(['service', 'ps', 'web'], { now: Date.parse('2026-11-21T15:02:00.000Z') });
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^NAME +ID +STATE +HEALTH +DESIRED +NODE +ADDRESS /);
      assert.match(lines[1] ?? '', /^web-1 +web-1-a +running +- +running +vm-a +/);
      assert.match(lines[2] ?? '', /^web-2 +web-2-b +running +- +running +vm-b +/);
    });

    it('logs prefixes each line with its instance and sends --tail 100 by default', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      stub.logs.set('default/web', [
        { time: '2026-11-21T15:00:00.000000001Z', stream: 'stdout', text: 'hello', instance: 'web-1-a', slot: 1, container: 'web' },
        { time: '2026-11-21T15:00:00.000000002Z', stream: 'stderr', text: 'oops', instance: 'web-12-a', slot: 12, container: 'web' },
      ]);
      const r = await run(['service', 'logs', 'web']);
      assert.equal(r.stdout, 'web-1 | hello\nweb-12 | oops\n');
      assert.equal(stub.requests[0]?.query.get('tail'), '100');
      const stamped = await run(['service', 'logs', 'web', '-t', '-i', '12', '--tail', '5', '--since', '10m']);
      assert.match(stamped.stdout, /^web-1 \| 2026-11-21T15:00:00\.000000001Z hello\n/);
      const query = stub.requests[stub.requests.length - 1]?.query;
      assert.deepEqual([query?.get('instance'), query?.get('tail'), query?.get('since')], ['12', '5', '10m']);
    });

    it('logs -f follows until Ctrl-C and exits 0', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      stub.logs.set('default/web', [{ time: 't', stream: 'stdout', text: 'first', instance: 'i', slot: 1, container: 'web' }]);
      const interrupts = new FakeInterrupts();
      const stdout = new CapturedStream();
      const running = run(['service', 'logs', '-f', 'web'], { interrupts, stdout });
      while (!stdout.text.includes('first')) await new Promise((r) => setTimeout(r, 5));
      interrupts.fire();
      const r = await running;
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'web-1 | first\n');
      assert.equal(interrupts.count, 0, 'the Ctrl-C handler is removed again');
    });

    it('events prints one line per event', async () => {
      stub.seed(service({ spec: { name: 'web' } }));
      stub.events.set('default/web', [
        { id: 1, time: '2026-11-21T15:00:00.123Z', grid: 'default', service: 'web', type: 'service.created', severity: 'info', message: 'created' },
        { id: 2, time: '2026-11-21T15:00:01.000Z', grid: 'default', service: 'web', type: 'instance.exited', severity: 'warning', message: 'exited with code 1', slot: 2 },
      ]);
      const r = await run(['service', 'events', 'web']);
      assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => l.replace(/ +/g, ' ')), [
        '2026-11-21T15:00:00Z service.created web created',
        '2026-11-21T15:00:01Z instance.exited web-2 exited with code 1',
      ]);
    });

    it('stats shows CPU, memory and processes per instance', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }));
      stub.stats.set('default/web', [{ instance: 'web-1-a', slot: 1, time: 't', cpuPercent: 12.345, memoryBytes: 25_270_272, processes: 3 }]);
      const r = await run(['service', 'stats', 'web']);
      assert.equal(r.stdout, 'INSTANCE   CPU %   MEM USAGE   PROCS\nweb-1      12.3%   24.1MiB     3\n');
    });

    it('monitor prints one snapshot per interval when piped, until Ctrl-C', async () => {
      stub.seed(service({ spec: { name: 'web' }, deployedGeneration: 1 }), [instance()]);
      const interrupts = new FakeInterrupts();
      const running = run(['service', 'monitor', 'web', '--interval', '20ms'], { interrupts });
      while (stub.requests.filter((q) => q.path.endsWith('/stats')).length < 2) await new Promise((r) => setTimeout(r, 5));
      interrupts.fire();
      const r = await running;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.split('INSTANCE').length - 1 >= 2, r.stdout);
      assert.match(r.stdout, /^web {2}running {2}1\/1 instances {2}generation 1/);
      assert.match(r.stdout, /web-1 {6}running {3}127\.10\.0\.2/);
    });
  });

  describe('connection and usage errors', () => {
    it('tells how to start a server when none answers', async () => {
      const r = await runCli(['service', 'ls'], { env: { BERTH_HOST: 'http://127.0.0.1:9' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: cannot reach the berth server at http:\/\/127\.0\.0\.1:9 .*start one with `berth server`, or point --host or BERTH_HOST/);
    });

    it('prefers --host over BERTH_HOST', async () => {
      const r = await runCli(['--host', stub.url, 'service', 'ls', '-q'], { env: { BERTH_HOST: 'http://127.0.0.1:9' } });
      assert.equal(r.code, 0, r.stderr);
    });

    it('exits 2 for an unknown command or option', async () => {
      assert.equal((await run(['service', 'frobnicate'])).code, 2);
      assert.equal((await run(['service', 'ls', '--bogus'])).code, 2);
    });

    it('exits 0 for --help and prints to stdout', async () => {
      const r = await run(['service', 'create', '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: berth service create \[options\] <name> \[image\]/);
    });

    it('accepts process.argv as it is', async () => {
      const r = await runCli([process.execPath, '/usr/bin/berth', '--host', stub.url, 'service', 'ls', '-q']);
      assert.equal(r.code, 0, r.stderr);
    });
  });

  describe('server', () => {
    it('runs the server with the data directory from --data-dir, BERTH_DATA_DIR or the XDG default; the default one writes the CLI context "local"', async () => {
      const calls: unknown[] = [];
      const runServer = (o: unknown): Promise<void> => {
        calls.push(o);
        return Promise.resolve();
      };
      await runCli(['server', '--data-dir', '/d', '--listen', '127.0.0.1:0'], { runServer });
      await runCli(['server'], { runServer, env: { BERTH_DATA_DIR: '/env' } });
      await runCli(['server'], { runServer });
      await runCli(['server', '--max-replicas', '5000'], { runServer });
      assert.deepEqual(calls, [
        { dataDir: '/d', listen: '127.0.0.1:0' },
        { dataDir: '/env', listen: '127.0.0.1:7420' },
        { dataDir: '/home/test/.local/share/berth', listen: '127.0.0.1:7420', cliConfig: { path: '/home/test/.config/berth/config', context: 'local' } },
        { dataDir: '/home/test/.local/share/berth', listen: '127.0.0.1:7420', cliConfig: { path: '/home/test/.config/berth/config', context: 'local' }, maxReplicas: 5000 },
      ]);
    });

    it('keeps the data of a server run by root in /var/lib/berth, unless told otherwise', async () => {
      const calls: { dataDir: string }[] = [];
      const runServer = (o: { dataDir: string }): Promise<void> => {
        calls.push(o);
        return Promise.resolve();
      };
      await runCli(['server'], { runServer, uid: 0 });
      await runCli(['server'], { runServer, uid: 0, env: { BERTH_DATA_DIR: '/env' } });
      assert.deepEqual(calls.map((c) => c.dataDir), ['/var/lib/berth', '/env']);
    });

    it('passes the security flags on, repeatable ones as lists, and leaves out those not given', async () => {
      const calls: unknown[] = [];
      const runServer = (o: unknown): Promise<void> => {
        calls.push(o);
        return Promise.resolve();
      };
      const r = await runCli(
        ['server', '--data-dir', '/d', '--instance-user', 'svc', '--allowed-root', '/srv', '--allowed-root', '/opt/app', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--dns-allow', '10.0.0.0/8', '--dns-allow', 'fd00::/8', '--listen', '0.0.0.0:7420'],
        { runServer },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(calls, [
        { dataDir: '/d', listen: '0.0.0.0:7420', instanceUser: 'svc', allowedRoots: ['/srv', '/opt/app'], tlsCert: 'c.pem', tlsKey: 'k.pem', dnsAllow: ['10.0.0.0/8', 'fd00::/8'] },
      ]);
    });

    it('passes the Docker API face\'s listeners (repeatable) and TLS files on, and refuses other shapes (exit 2)', async () => {
      const calls: unknown[] = [];
      const runServer = (o: unknown): Promise<void> => {
        calls.push(o);
        return Promise.resolve();
      };
      const ok = await runCli(
        ['server', '--data-dir', '/d', '--docker-api', 'unix:///run/b.sock', '--docker-api', 'tcp://[::1]:2376', '--docker-api-tls-cert', 'c.pem', '--docker-api-tls-key', 'k.pem', '--docker-api-tls-ca', 'ca.pem'],
        { runServer },
      );
      assert.equal(ok.code, 0, ok.stderr);
      await runCli(['server', '--data-dir', '/d', '--docker-api', 'off'], { runServer });
      assert.deepEqual(calls, [
        { dataDir: '/d', listen: '127.0.0.1:7420', dockerApi: ['unix:///run/b.sock', 'tcp://[::1]:2376'], dockerApiTls: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' } },
        { dataDir: '/d', listen: '127.0.0.1:7420', dockerApi: ['off'] },
      ]);
      const refuse = (): Promise<void> => assert.fail('the server must not start');
      for (const bad of ['unix://relative.sock', 'tcp://127.0.0.1', 'http://127.0.0.1:2375', '/var/run/docker.sock']) {
        const r = await runCli(['server', '--docker-api', bad], { runServer: refuse });
        assert.equal(r.code, 2, bad);
        assert.match(r.stderr, /expected unix:\/\/\/PATH, tcp:\/\/HOST:PORT/, bad);
      }
      const both = await runCli(['server', '--docker-api', 'off', '--docker-api', 'unix:///x.sock'], { runServer: refuse });
      assert.equal(both.code, 2);
      const half = await runCli(['server', '--docker-api-tls-key', 'k.pem'], { runServer: refuse });
      assert.equal(half.code, 2);
      assert.match(half.stderr, /--docker-api-tls-cert and --docker-api-tls-key go together/);
    });

    it('refuses a --dns-allow that is no CIDR and a --tls-cert without --tls-key (exit 2)', async () => {
      const runServer = (): Promise<void> => assert.fail('the server must not start');
      const bad = await runCli(['server', '--dns-allow', '10.0.0.0/40'], { runServer });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /10\.0\.0\.0\/40/);
      const half = await runCli(['server', '--tls-cert', 'c.pem'], { runServer });
      assert.equal(half.code, 2);
      assert.match(half.stderr, /--tls-cert and --tls-key go together/);
    });

    it('refuses a --max-replicas that is not a whole number of at least 1 as a usage error', async () => {
      for (const bad of ['0', 'lots', '1.5', '-3']) {
        const r = await runCli(['server', `--max-replicas=${bad}`], { runServer: () => Promise.reject(new Error('must not start')) });
        assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
        assert.match(r.stderr, /--max-replicas/);
      }
    });
  });
});
