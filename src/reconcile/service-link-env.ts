/** A service as env-var discovery sees it: a name, a virtual IP and its ports. */
export interface LinkedService {
  readonly name: string;
  /** Services without a virtual IP (headless, ExternalName) get no variables, as in Kubernetes. */
  readonly clusterIP?: string;
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: 'TCP' | 'UDP' }[];
}

/**
 * Kubernetes' env-var discovery (pkg/kubelet/envvars): for every service of the grid that has a
 * virtual IP when the instance starts, `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT` (first port),
 * `<NAME>_SERVICE_PORT_<PORTNAME>` per named port, and the Docker-link variables `<NAME>_PORT`
 * (`tcp://ip:port` of the first port), `<NAME>_PORT_<port>_<PROTO>` and its `_PROTO`, `_PORT`, `_ADDR`.
 * NAME is the service name upper-cased with '-' as '_'. Services are taken in name order, so the
 * result does not depend on the order the store lists them in.
 */
export function serviceLinkEnv(services: readonly LinkedService[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of [...services].sort((a, b) => a.name.localeCompare(b.name))) {
    const first = s.ports[0];
    if (!s.clusterIP || !first) continue;
    const name = envName(s.name);
    env[`${name}_SERVICE_HOST`] = s.clusterIP;
    env[`${name}_SERVICE_PORT`] = String(first.port);
    for (const p of s.ports) if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    env[`${name}_PORT`] = `${first.protocol.toLowerCase()}://${s.clusterIP}:${first.port}`;
    for (const p of s.ports) {
      const prefix = `${name}_PORT_${p.port}_${p.protocol}`;
      env[prefix] = `${p.protocol.toLowerCase()}://${s.clusterIP}:${p.port}`;
      env[`${prefix}_PROTO`] = p.protocol.toLowerCase();
      env[`${prefix}_PORT`] = String(p.port);
      env[`${prefix}_ADDR`] = s.clusterIP;
    }
  }
  return env;
}

/** `redis-master` → `REDIS_MASTER`; a leading digit gets a '_' (a variable name cannot start with one). */
export function envName(name: string): string {
  const upper = name.toUpperCase().replace(/[-.]/g, '_');
  return /^[0-9]/.test(upper) ? `_${upper}` : upper;
}
