import type { FastifyInstance } from 'fastify';
import { isTerminal } from '../../model/index.js';
import { controlPlaneName } from '../leader-routing.js';
import type { DockerContext } from './docker-context.js';
import type { DockerRouteAccess } from './docker-access.js';
import { SWARM_PORT, hostOfUrl, nodeId, selfNode, swarmCluster, swarmId } from './swarm-objects.js';

/** Who may call the system endpoints: ping and version are public (the CLI negotiates with them first, as berth's GET /v1/version is). */
export const SYSTEM_ACCESS: Readonly<Record<string, DockerRouteAccess>> = {
  'GET /_ping': { kind: 'public' },
  'GET /version': { kind: 'public' },
  'GET /info': { kind: 'permission', permission: 'read', scope: 'grid' },
};

/**
 * `GET|HEAD /_ping`, `GET /version`, `GET /info` (moby `daemon/server/router/system/system_routes.go`):
 * what the docker CLI reads to negotiate (ping's headers), and what `docker version` and `docker info`
 * print — berth as the engine, its control-plane servers as the swarm's managers.
 */
export function registerSystemRoutes(app: FastifyInstance, ctx: DockerContext): void {
  // HEAD /_ping comes with GET (fastify's exposeHeadRoutes): the same headers, no body.
  app.get('/_ping', async (_request, reply) => {
    void reply
      .header('Cache-Control', 'no-cache, no-store, must-revalidate')
      .header('Pragma', 'no-cache')
      // The client splits it at "/": the node state, and "manager" when it may call the swarm APIs.
      .header('Swarm', 'active/manager')
      .type('text/plain; charset=utf-8');
    return 'OK';
  });

  app.get('/version', async () => versionOf(ctx));

  app.get('/info', async () => {
    const node = selfNode(ctx);
    const address = node?.address ?? ctx.berth.nodeAddresses[0] ?? '127.0.0.1';
    const instances = ctx.berth.store.listInstances({ grid: ctx.grid });
    // An ended instance (complete, failed, shutdown, rejected) is a stopped container.
    const running = instances.filter((i) => i.status.state === 'running').length;
    const stopped = instances.filter((i) => isTerminal(i.status.state)).length;
    const self = nodeId(ctx.berth.node);
    const managers = managersOf(ctx, self, address);
    return {
      ID: swarmId('engine', ctx.berth.node),
      Containers: instances.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: stopped,
      // The node's engine's images (0 without one, or when it does not answer: info still answers).
      Images: await (ctx.images?.count?.() ?? Promise.resolve(0)).catch(() => 0),
      Driver: '',
      DriverStatus: [],
      Plugins: { Volume: [], Network: ['overlay'], Authorization: null, Log: [] },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      OomKillDisable: false,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date(ctx.berth.clock.now()).toISOString(),
      LoggingDriver: '',
      CgroupDriver: '',
      NEventsListener: 0,
      KernelVersion: ctx.host.kernelVersion,
      OperatingSystem: `berth ${ctx.engine.version} on ${ctx.host.operatingSystem}`,
      OSVersion: '',
      OSType: ctx.host.os,
      Architecture: ctx.host.machine,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: null,
      NCPU: ctx.host.ncpu,
      MemTotal: ctx.host.memTotal,
      GenericResources: null,
      DockerRootDir: '',
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: ctx.berth.node,
      Labels: [`io.berth.grid=${ctx.grid}`],
      ExperimentalBuild: false,
      ServerVersion: ctx.engine.version,
      Runtimes: {},
      DefaultRuntime: '',
      Swarm: {
        NodeID: self,
        NodeAddr: address,
        LocalNodeState: 'active',
        ControlAvailable: true,
        Error: '',
        RemoteManagers: managers,
        Nodes: ctx.berth.store.listNodes().length,
        Managers: managers.length,
        Cluster: swarmCluster(ctx),
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: [],
      Warnings: [],
    };
  });
}

/**
 * Swarm's managers are berth's control-plane servers: each server registered in etcd (several servers,
 * store/server-registry.ts), at its API URL's host on the swarm port; a lone server is the one manager.
 * A cluster's list comes from etcd, so it holds this server too once its registration landed (until
 * then, this server alone).
 */
function managersOf(ctx: DockerContext, self: string, address: string): { NodeID: string; Addr: string }[] {
  const servers = ctx.berth.leaderRouting?.servers() ?? [];
  if (servers.length === 0) return [{ NodeID: self, Addr: `${address}:${SWARM_PORT}` }];
  return servers.map((s) => ({ NodeID: nodeId(controlPlaneName(s.id)), Addr: `${hostOfUrl(s.url)}:${SWARM_PORT}` }));
}

/** types.Version: berth as the platform, its version as the engine's (the CLI prints Platform.Name and the Engine component). */
function versionOf(ctx: DockerContext): Record<string, unknown> {
  const { engine, host } = ctx;
  const details = {
    ApiVersion: engine.maxApiVersion,
    MinAPIVersion: engine.minApiVersion,
    Arch: host.goArch,
    Os: host.os,
    KernelVersion: host.kernelVersion,
    Experimental: 'false',
    GitCommit: '',
    GoVersion: '',
    BuildTime: '',
  };
  return {
    Platform: { Name: 'berth' },
    Components: [
      { Name: 'Engine', Version: engine.version, Details: details },
      { Name: 'Node.js', Version: process.versions.node, Details: {} },
    ],
    Version: engine.version,
    ApiVersion: engine.maxApiVersion,
    MinAPIVersion: engine.minApiVersion,
    GitCommit: '',
    GoVersion: '',
    Os: host.os,
    Arch: host.goArch,
    KernelVersion: host.kernelVersion,
    BuildTime: '',
  };
}
