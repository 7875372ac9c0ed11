import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerArgv, containerEnv, expandVars } from './container-env.js';
import { instance, spec } from '../../test/fixtures.js';

describe('containerEnv', () => {
  const base = instance({ slot: 2 });
  const container = spec({ containers: [{ command: ['srv'], ports: [{ containerPort: 8080 }, { name: 'admin', containerPort: 9090 }], env: { GREETING: 'hi $(BERTH_SLOT)', URL: 'http://$(BERTH_INSTANCE_IP):$(PORT)/', RAW: '$$(BERTH_SLOT)', MISSING: '$(NOPE)' } }] }).containers[0];
  assert.ok(container);

  it('gives every container its identity, its address and PORT (its first port)', () => {
    const env = containerEnv(base, container, { node: 'node-1', hostEnv: {} });
    assert.equal(env.BERTH_GRID, 'default');
    assert.equal(env.BERTH_SERVICE, 'web');
    assert.equal(env.BERTH_SLOT, '2');
    assert.equal(env.BERTH_INSTANCE, base.id);
    assert.equal(env.BERTH_INSTANCE_IP, base.spec.address);
    assert.equal(env.BERTH_NODE, 'node-1');
    assert.equal(env.PORT, '8080');
  });

  it('expands $(VAR) in env values from the variables before them, keeps unknown ones and $$ escapes', () => {
    const env = containerEnv(base, container, { node: 'n', hostEnv: {} });
    assert.equal(env.GREETING, 'hi 2');
    assert.equal(env.URL, `http://${base.spec.address}:8080/`);
    assert.equal(env.RAW, '$(BERTH_SLOT)');
    assert.equal(env.MISSING, '$(NOPE)');
  });

  it('passes PATH-like basics of the host and nothing else of it', () => {
    const env = containerEnv(base, container, { node: 'n', hostEnv: { PATH: '/usr/bin', HOME: '/root', SECRET_TOKEN: 'x' } });
    assert.equal(env.PATH, '/usr/bin');
    assert.equal(env.HOME, '/root');
    assert.equal(env.SECRET_TOKEN, undefined);
  });

  it('sets BERTH_DATA_DIR for a stateful slot and BERTH_API_URL when known', () => {
    const env = containerEnv(base, container, { node: 'n', hostEnv: {}, dataDir: '/data/volumes/default/web/2', apiUrl: 'http://127.0.0.1:7420' });
    assert.equal(env.BERTH_DATA_DIR, '/data/volumes/default/web/2');
    assert.equal(env.BERTH_API_URL, 'http://127.0.0.1:7420');
  });

  it('expands $(VAR) in command and args, as Kubernetes does', () => {
    const c = { ...container, command: ['srv', '--bind', '$(BERTH_INSTANCE_IP):$(PORT)'], args: ['--name', '$(BERTH_SERVICE)-$(BERTH_SLOT)'] };
    const env = containerEnv(base, c, { node: 'n', hostEnv: {} });
    assert.deepEqual(containerArgv(c, env), ['srv', '--bind', `${base.spec.address}:8080`, '--name', 'web-2']);
  });

  it('leaves shell syntax alone', () => {
    assert.equal(expandVars('echo $HOME ${X} $(date)', { X: 'x' }), 'echo $HOME ${X} $(date)');
  });
});
