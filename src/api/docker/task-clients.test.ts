import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { addInstance, deployService, dockerFace } from '../testing/docker-fixtures.js';
import { nodeIdOf, taskIdOf } from './swarm-ids.js';

/** A task id as the docker CLI shows it: cut to 12 characters (stringid.TruncateID). */
const shownId = (instanceId: string): string => taskIdOf(instanceId).slice(0, 12);

/*
 * Clients nobody here wrote, against the face's task and log routes: the docker 28 CLI and the Docker
 * SDK for Python. The CLI resolves the tasks' service and node ids to names through /services/{id}
 * and /nodes/{id}.
 */

const run = promisify(execFile);
const DOCKER_CLI = '/usr/local/bin/docker';

async function hasDockerPy(): Promise<boolean> {
  try {
    await run('python3', ['-c', 'import docker'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe('Docker face: tasks and logs through the docker CLI and docker-py', async () => {
  const dockerPy = await hasDockerPy();
  let app: FastifyInstance;
  let host = '';
  const config = mkdtempSync(join(tmpdir(), 'berth-dtask-cli-'));

  before(async () => {
    const face = dockerFace();
    app = face.app;
    const web = deployService(face.store, { name: 'web', replicas: 2 });
    addInstance(face.store, web, { id: 'web-1-old', slot: 1, status: { state: 'failed', exitCode: 1, message: 'exited with code 1', finishedAt: '2026-03-01T11:59:00.000Z' } });
    addInstance(face.store, web, { id: 'web-1-a', slot: 1, status: {} });
    addInstance(face.store, web, { id: 'web-2-a', slot: 2, status: {} });
    face.telemetry.lines = [
      { time: '2026-03-01T11:00:00.000000000Z', stream: 'stdout', text: 'one', instance: 'web-1-a', slot: 1, container: 'web' },
      { time: '2026-03-01T11:00:01.000000000Z', stream: 'stderr', text: 'two', instance: 'web-2-a', slot: 2, container: 'web' },
    ];
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    assert.ok(address && typeof address === 'object');
    host = `tcp://127.0.0.1:${address.port}`;
  });
  after(async () => {
    await app?.close();
    rmSync(config, { recursive: true, force: true });
  });

  /** The CLI pointed at the face only: DOCKER_HOST set explicitly, a config directory of its own. */
  const docker = (...args: string[]) =>
    run(DOCKER_CLI, args, { timeout: 20_000, env: { PATH: process.env.PATH ?? '', HOME: config, DOCKER_HOST: host, DOCKER_API_VERSION: '1.50', DOCKER_CONFIG: config } });

  it('`docker inspect --type task` reads a task as the engine’s', { skip: !existsSync(DOCKER_CLI) && 'no docker CLI' }, async () => {
    const { stdout } = await docker('inspect', '--type', 'task', '--format', '{{.ID}} {{.Slot}} {{.DesiredState}} {{.Status.State}} {{.NodeID}}', 'web-2-a');
    assert.equal(stdout.trim(), `${taskIdOf('web-2-a')} 2 running running ${nodeIdOf('node-1')}`, 'found by berth’s instance id, shown with its task id');
  });

  const nodeShown = 'node-1';

  it('`docker service ps` shows the current task of each slot and the one it replaced, with its error', { skip: !existsSync(DOCKER_CLI) && 'no docker CLI' }, async () => {
    const { stdout } = await docker('service', 'ps', '--format', '{{.ID}}|{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}', 'web');
    const rows = stdout.trim().split('\n');
    assert.equal(rows.length, 3, stdout);
    assert.match(rows[0] ?? '', new RegExp(`^${shownId('web-1-a')}\\|web\\.1\\|${nodeShown}\\|Running\\|Running .+ ago\\|$`));
    assert.match(rows[1] ?? '', new RegExp(`^${shownId('web-1-old')}\\|web\\.1\\|${nodeShown}\\|Shutdown\\|Failed .+ ago\\|"task: non-zero exit \\(1\\)"$`));
    assert.match(rows[2] ?? '', new RegExp(`^${shownId('web-2-a')}\\|web\\.2\\|${nodeShown}\\|Running\\|Running .+ ago\\|$`));
    const current = await docker('service', 'ps', '-q', '-f', 'desired-state=running', 'web');
    assert.deepEqual(current.stdout.trim().split('\n').sort(), [taskIdOf('web-1-a'), taskIdOf('web-2-a')].sort(), '-q prints whole ids');
  });

  it('`docker service logs -t` decodes the frames and builds its `web.1.<task>@<node>` prefix from the details', { skip: !existsSync(DOCKER_CLI) && 'no docker CLI' }, async () => {
    const { stdout, stderr } = await docker('service', 'logs', '-t', 'web');
    assert.match(stdout, new RegExp(`^2026-03-01T11:00:00\\.000000000Z web\\.1\\.${shownId('web-1-a')}@${nodeShown}    \\| one\\n$`));
    assert.match(stderr, new RegExp(`^2026-03-01T11:00:01\\.000000000Z web\\.2\\.${shownId('web-2-a')}@${nodeShown}    \\| two\\n$`), 'a stderr frame goes to the CLI’s stderr');
    const raw = await docker('service', 'logs', '--raw', 'web-1-a');
    assert.equal(raw.stdout, 'one\n', 'a task id works too: the CLI falls back to the task');
  });

  it('docker-py lists tasks with filters, inspects one and reads a service’s demultiplexed logs', { skip: !dockerPy && 'no docker-py' }, async () => {
    const script = [
      'import docker, json, sys',
      'c = docker.APIClient(base_url=sys.argv[1], version="1.50")',
      'rows = [[t["ID"], t["DesiredState"], t["Status"]["State"], t["Status"].get("Err")] for t in c.tasks(filters={"service": "web"})]',
      'running = sorted(t["ID"] for t in c.tasks(filters={"service": "web", "desired-state": "running"}))',
      'logs = b"".join(c.service_logs("web", stdout=True, stderr=True, is_tty=False)).decode()',
      'print(json.dumps({"rows": sorted(rows), "running": running, "slot": c.inspect_task("web-1-a")["Slot"], "logs": logs}))',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, host.replace('tcp://', 'http://')], { timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), {
      rows: [
        [taskIdOf('web-1-a'), 'running', 'running', null],
        [taskIdOf('web-1-old'), 'shutdown', 'failed', 'task: non-zero exit (1)'],
        [taskIdOf('web-2-a'), 'running', 'running', null],
      ].sort(),
      running: [taskIdOf('web-1-a'), taskIdOf('web-2-a')].sort(),
      slot: 1,
      logs: 'one\ntwo\n',
    });
  });
});
