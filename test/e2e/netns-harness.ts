import { execFileSync } from 'node:child_process';

/**
 * The project's own test hosts (issue 13): a bridge with an address on the host, and network
 * namespaces, each with a veth on that bridge and an address of its own. Traffic stays on the bridge
 * and the namespaces' loopbacks. Needs root.
 */
export interface TestHost {
  readonly ns: string;
  readonly name: string;
  /** The veth end on the bridge (host side): `ip link set … down` cuts the namespace off. */
  readonly hostEnd: string;
  readonly nsEnd: string;
  readonly address: string;
}

export interface TestNetwork {
  readonly bridge: string;
  /** The bridge's (the host's) address: `<subnet>.1`. */
  readonly hostAddress: string;
  readonly hosts: readonly TestHost[];
  setUp(): void;
  tearDown(): void;
  /** Takes a namespace's link down or up (from the host side). */
  link(host: TestHost, state: 'up' | 'down'): void;
}

export const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });

const quietly = (f: () => void): void => {
  try {
    f();
  } catch {
    // already gone
  }
};

/**
 * A bridge `bridge` with `<subnet>.1/24`, and one namespace per name (`<subnet>.2`, `.3`, …).
 * @param tag  short, unique per test file (interface names are at most 15 characters)
 */
export function testNetwork(tag: string, subnet: string, names: readonly string[]): TestNetwork {
  const bridge = `bt${tag}`;
  const hosts: TestHost[] = names.map((name, k) => {
    const letter = String.fromCharCode(97 + k);
    return { ns: `berth-bt${tag}-${letter}`, name, hostEnd: `bt${tag}${letter}-h`, nsEnd: `bt${tag}${letter}-n`, address: `${subnet}.${k + 2}` };
  });
  // Bridged traffic between the namespaces passes iptables' FORWARD (br_netfilter), whose policy Docker sets to DROP: accept our bridge's.
  const forwardRule = ['FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'];
  const tearDown = (): void => {
    for (const h of hosts) quietly(() => ip('netns', 'del', h.ns));
    quietly(() => ip('link', 'del', bridge));
    quietly(() => execFileSync('iptables', ['-D', ...forwardRule], { stdio: 'ignore' }));
  };
  return {
    bridge,
    hostAddress: `${subnet}.1`,
    hosts,
    tearDown,
    setUp() {
      tearDown();
      ip('link', 'add', bridge, 'type', 'bridge');
      ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
      ip('link', 'set', bridge, 'up');
      for (const h of hosts) {
        ip('netns', 'add', h.ns);
        ip('link', 'add', h.hostEnd, 'type', 'veth', 'peer', 'name', h.nsEnd);
        ip('link', 'set', h.hostEnd, 'master', bridge);
        ip('link', 'set', h.hostEnd, 'up');
        ip('link', 'set', h.nsEnd, 'netns', h.ns);
        ip('-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', h.nsEnd);
        ip('-n', h.ns, 'link', 'set', h.nsEnd, 'up');
        ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      }
      quietly(() => execFileSync('iptables', ['-I', ...forwardRule], { stdio: 'ignore' }));
    },
    link(host, state) {
      ip('link', 'set', host.hostEnd, state);
    },
  };
}

/**
 * `curl`-free GET from inside a namespace: node's http client run there; the body, or `ERR <code>`
 * (`ERR timeout` when no answer came within `timeoutMs`).
 */
export function getIn(ns: string, host: string, port: number, timeoutMs = 2000): string {
  const script = `const q=require('http').get({host:'${host}',port:${port},path:'/',agent:false,timeout:${timeoutMs}},(r)=>{let b='';r.on('data',(c)=>b+=c);r.on('end',()=>{process.stdout.write(b.trim());process.exit(0)})});q.on('timeout',()=>{process.stdout.write('ERR timeout');process.exit(0)});q.on('error',(e)=>{process.stdout.write('ERR '+e.code);process.exit(0)})`;
  return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: timeoutMs + 5000 });
}

export const isRoot = process.geteuid?.() === 0;
