// Finds a service the way programs in a cluster do: Kubernetes-style variables that berth gives every
// instance (<NAME>_SERVICE_HOST / _PORT, the service's virtual IP and port), or, for a service created
// after this instance started, berth's DNS (BERTH_DNS) and the name <service>.<grid>.berth.local.
import { request } from 'node:http';
import { promises as dns } from 'node:dns';

const grid = process.env.BERTH_GRID ?? 'default';
const resolver = new dns.Resolver({ timeout: 1000, tries: 2 });
if (process.env.BERTH_DNS) {
  const [host, port] = process.env.BERTH_DNS.split(':');
  resolver.setServers([`${host}:${port}`]);
}

/** The virtual IP and port of `service`. */
export async function locate(service, defaultPort) {
  const NAME = service.toUpperCase().replace(/-/g, '_');
  const host = process.env[`${NAME}_SERVICE_HOST`] ?? (await resolver.resolve4(`${service}.${grid}.berth.local`))[0];
  const port = Number(process.env[`${NAME}_SERVICE_PORT`] ?? defaultPort);
  return { host, port };
}

/**
 * One HTTP request to `service` through its virtual IP, on a new connection each time, so berth's proxy
 * balances every request over the service's ready instances. Resolves with { status, body }.
 */
export async function call(service, defaultPort, path, method = 'GET') {
  const { host, port } = await locate(service, defaultPort);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${service} did not answer in 2 s`)));
    req.on('error', reject);
    req.end();
  });
}
