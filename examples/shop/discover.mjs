// Finds the running instances of a service through berth's API (BERTH_API_URL, given to every
// instance). The networking part of berth replaces this with DNS names and virtual IPs.
const api = process.env.BERTH_API_URL;
const grid = process.env.BERTH_GRID ?? 'default';
const cache = new Map();

/** Addresses ("ip:port") of the running instances of `service`, refreshed every second. */
export async function endpoints(service, portName) {
  const hit = cache.get(service);
  if (hit && Date.now() - hit.at < 1000) return hit.list;
  const res = await fetch(`${api}/v1/grids/${grid}/services/${service}/instances?active=true`);
  if (!res.ok) throw new Error(`berth API answered ${res.status} for ${service}`);
  const { items } = await res.json();
  const list = items
    .filter((i) => i.status.state === 'running' && i.desiredState === 'running')
    .map((i) => {
      const ports = i.spec.containers.flatMap((c) => c.ports);
      const port = (portName ? ports.find((p) => p.name === portName) : ports[0])?.containerPort;
      return `${i.spec.address}:${port}`;
    });
  cache.set(service, { at: Date.now(), list });
  return list;
}

let turn = 0;
/** fetch() against one instance of `service`, round robin, trying the next one if a connect fails. */
export async function call(service, path, init) {
  const list = await endpoints(service);
  if (list.length === 0) throw new Error(`no running instance of ${service}`);
  let last;
  for (let k = 0; k < list.length; k++) {
    const target = list[turn++ % list.length];
    try {
      return await fetch(`http://${target}${path}`, { ...init, signal: AbortSignal.timeout(2000) });
    } catch (e) {
      last = e;
      cache.delete(service);
    }
  }
  throw last;
}
