import { isIPv4 } from 'node:net';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { ServiceSpecInput, ServiceType } from '../model/index.js';
import { UsageError } from './cli-error.js';
import type { PortMapping } from './port-flag.js';
import type { ServicePortFlag } from './service-port-flag.js';
import { parseServicePortFlag } from './service-port-flag.js';

/*
 * The network-face flags of `service create` and `service update` (issue 3): Kubernetes' Service fields
 * under kubectl-like names. Values are checked as they are read (exit 2 naming the flag); what needs
 * the whole spec or the server's state (a taken node port, a clusterIP outside the range, unnamed
 * ports of a multi-port service) is the server's to refuse, and its message is printed as it comes.
 */

/** Parsed network flags; a flag not given is undefined. */
export interface NetworkFlags {
  readonly type?: ServiceType;
  readonly port?: readonly ServicePortFlag[];
  readonly clusterIp?: string;
  readonly sessionAffinity?: 'None' | 'ClientIP';
  readonly sessionAffinityTimeout?: number;
  readonly externalIp?: readonly string[];
  readonly externalName?: string;
  readonly publishNotReady?: boolean;
  /** `create` only: hand-set endpoints of a service without containers. */
  readonly endpoint?: readonly string[];
}

export function addNetworkOptions(command: Command, which: 'create' | 'update'): Command {
  command
    .addOption(new Option('--type <type>', 'how the service is reached (default ClusterIP)').choices(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']))
    .option('--port <[name:]port[:target[:nodePort]][/proto]>', 'a service port on the virtual IP (Kubernetes); TARGET is a container port number or name (default PORT); repeatable, names required when there are several; -p publishes on the node instead', collectPorts)
    .option('--cluster-ip <ip|None>', 'the virtual IP to ask for (inside the service range), or None for a headless service', clusterIpValue)
    .addOption(new Option('--session-affinity <affinity>', 'ClientIP keeps a client on one instance (default None)').choices(['None', 'ClientIP']))
    .option('--session-affinity-timeout <seconds>', 'how long ClientIP affinity lasts, 1-86400 (default 10800)', affinityTimeoutValue)
    .option('--external-ip <ip>', 'also serve the service ports on this address (repeatable)', collectIps)
    .option('--external-name <name>', 'for --type ExternalName: the DNS name this service is an alias of (a CNAME)', externalNameValue)
    .option('--publish-not-ready', 'list not-ready instances in DNS and the proxy too');
  if (which === 'update') command.option('--no-publish-not-ready', 'list only ready instances (the default)');
  else command.option('--endpoint <ip[:port]>', 'a service without containers: send its traffic to this address (repeatable; change with berth endpoints set)', collectAddresses);
  return command;
}

type MutableNetwork = { -readonly [K in keyof ServiceSpecInput]?: ServiceSpecInput[K] };

/**
 * Merges the network flags into `spec` (the flags' spec for create, the current spec for update).
 * `pPorts` are the service ports `-p` made, which `--port` values follow in one list.
 * Switching type drops what the new type cannot keep, as Kubernetes' API server does: node ports when
 * leaving NodePort/LoadBalancer, the clusterIP when becoming ExternalName, externalName when leaving it.
 * @throws UsageError for combinations that cannot mean anything (a timeout without ClientIP affinity).
 */
export function applyNetworkFlags(spec: MutableNetwork, flags: NetworkFlags, pPorts: readonly ServicePortInput[] | undefined): void {
  if (flags.type !== undefined) spec.type = flags.type;
  else if (flags.externalName !== undefined) spec.type = 'ExternalName';
  if (flags.externalName !== undefined && spec.type !== 'ExternalName') {
    throw new UsageError(`--external-name applies to --type ExternalName, not ${spec.type ?? 'ClusterIP'}`);
  }
  if (pPorts !== undefined || flags.port !== undefined) {
    const own: ServicePortInput[] = (flags.port ?? []).map((p) => ({ ...p }));
    const fromP: ServicePortInput[] = [];
    for (const p of pPorts ?? []) {
      // A --port that serves the same target already names the service port: -p publishes that one.
      const same = own.find((o) => o.protocol === p.protocol && o.published === undefined && (o.targetPort ?? o.port) === p.targetPort);
      if (same) same.published = p.published;
      else if (own.some((o) => o.protocol === p.protocol && o.port === p.port)) fromP.push({ ...p, port: p.published ?? p.port });
      else fromP.push({ ...p });
    }
    // -p names its ports only when there are several -p values; with --port values too they need names.
    if (fromP.length + own.length > 1) for (const p of fromP) p.name = `${p.protocol.toLowerCase()}-${p.port}`;
    spec.ports = [...fromP, ...own];
  }
  if (flags.clusterIp !== undefined) spec.clusterIP = flags.clusterIp;
  if (flags.externalIp !== undefined) spec.externalIPs = [...flags.externalIp];
  if (flags.externalName !== undefined) spec.externalName = flags.externalName;
  if (flags.publishNotReady !== undefined) spec.publishNotReadyAddresses = flags.publishNotReady;
  if (flags.endpoint !== undefined) spec.endpoints = [...flags.endpoint];
  if (flags.sessionAffinity !== undefined) spec.sessionAffinity = flags.sessionAffinity;
  if (flags.sessionAffinityTimeout !== undefined) {
    if (spec.sessionAffinity !== 'ClientIP') {
      throw new UsageError('--session-affinity-timeout applies with --session-affinity ClientIP (Kubernetes\' sessionAffinityConfig)');
    }
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: flags.sessionAffinityTimeout } };
  }
  if (spec.sessionAffinity !== 'ClientIP') delete spec.sessionAffinityConfig;
  if (flags.type !== undefined) dropWhatTheTypeCannotKeep(spec, flags);
}

/** A service port as the spec takes it. */
export type ServicePortInput = { name?: string; port: number; targetPort?: number | string; nodePort?: number; published?: number; protocol: 'TCP' | 'UDP' };

/**
 * The service ports `-p PUBLISHED:TARGET` values make (Kontena's and Swarm's publishing): service port
 * TARGET → targetPort TARGET, published on the node at PUBLISHED. A second value for a target already
 * served gets PUBLISHED as its service port (one service port holds one published port). Named
 * `tcp-80` only when there are several.
 * @throws UsageError when one published port is given twice for a protocol
 */
export function servicePortsFromMappings(mappings: readonly PortMapping[]): ServicePortInput[] {
  // Per target, one mapping serves as service port TARGET: the one publishing the same number, else the first.
  const primary = new Map<string, PortMapping>();
  for (const m of mappings) {
    const key = `${m.target}/${m.protocol}`;
    const held = primary.get(key);
    if (held === undefined || (held.published !== held.target && m.published === m.target)) primary.set(key, m);
  }
  const out: ServicePortInput[] = [];
  for (const m of mappings) {
    const flag = `-p ${m.published}:${m.target}${m.protocol === 'UDP' ? '/udp' : ''}`;
    if (out.some((p) => p.protocol === m.protocol && p.published === m.published)) {
      throw new UsageError(`${flag}: ${m.protocol.toLowerCase()} port ${m.published} is published twice; publish each port once`);
    }
    const port = primary.get(`${m.target}/${m.protocol}`) === m ? m.target : m.published;
    if (mappings.some((o) => o !== m && o.protocol === m.protocol && primary.get(`${o.target}/${o.protocol}`) === o && o.target === port)) {
      throw new UsageError(`${flag}: service port ${port} is taken by another -p value; use --port NAME:PORT:${m.target} for one of them`);
    }
    out.push({ port, targetPort: m.target, published: m.published, protocol: m.protocol });
  }
  if (out.length > 1) for (const p of out) p.name = `${p.protocol.toLowerCase()}-${p.port}`;
  return out;
}


function dropWhatTheTypeCannotKeep(spec: MutableNetwork, flags: NetworkFlags): void {
  const type = spec.type;
  // Node ports given in this very command stay, so that the server can say why they do not fit.
  if ((type === 'ClusterIP' || type === 'ExternalName') && flags.port === undefined) {
    spec.ports = (spec.ports ?? []).map(({ nodePort: _dropped, ...rest }) => rest);
  }
  // An ExternalName service is a DNS alias: nothing is published for it.
  if (type === 'ExternalName' && flags.port === undefined) spec.ports = (spec.ports ?? []).map(({ published: _dropped, ...rest }) => rest);
  if (type === 'ExternalName' && flags.clusterIp === undefined) delete spec.clusterIP;
  if (type !== 'ExternalName' && flags.externalName === undefined) delete spec.externalName;
}

// ── value parsers ───────────────────────────────────────────────────────────────────────────────

function collectPorts(value: string, previous: ServicePortFlag[] | undefined): ServicePortFlag[] {
  try {
    return [...(previous ?? []), parseServicePortFlag(value)];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function collectIps(value: string, previous: string[] | undefined): string[] {
  if (!isIPv4(value.trim())) throw new InvalidArgumentError(`"${value}": expected an IPv4 address such as 127.0.0.2`);
  return [...(previous ?? []), value.trim()];
}

/** `IP` or `IP:PORT`, collected (hand-set endpoints). */
export function collectAddresses(value: string, previous: string[] | undefined): string[] {
  const m = /^([\d.]+)(?::(\d{1,5}))?$/.exec(value.trim());
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || !isIPv4(m[1] ?? '') || (port !== undefined && (port < 1 || port > 65535))) {
    throw new InvalidArgumentError(`"${value}": expected IP or IP:PORT, e.g. 127.0.0.5:5432`);
  }
  return [...(previous ?? []), value.trim()];
}

/** An IPv4 address or `None` (headless); the range check is the server's, which knows the range. */
export function clusterIpValue(value: string): string {
  const v = value.trim();
  if (v.toLowerCase() === 'none') return 'None';
  if (!isIPv4(v)) throw new InvalidArgumentError(`"${value}": expected an IPv4 address in the service range (default 127.96.0.0/16) or None for a headless service`);
  return v;
}

/** Seconds, 1-86400 (Kubernetes' bounds for sessionAffinityConfig.clientIP.timeoutSeconds). */
export function affinityTimeoutValue(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 86_400)) throw new InvalidArgumentError(`"${value}": expected a whole number of seconds from 1 to 86400 (default 10800)`);
  return n;
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function externalNameValue(value: string): string {
  const v = value.trim().replace(/\.$/, '');
  if (v.length > 253 || !DNS_NAME.test(v)) throw new InvalidArgumentError(`"${value}": expected a lower-case DNS name such as db.example.org`);
  return v;
}
