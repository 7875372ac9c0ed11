import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { envName, serviceLinkEnv } from './service-link-env.js';

describe('serviceLinkEnv', () => {
  it('gives Kubernetes\' variables for a service with a virtual IP (the redis-master example)', () => {
    const env = serviceLinkEnv([{ name: 'redis-master', clusterIP: '10.0.0.11', ports: [{ port: 6379, protocol: 'TCP' }] }]);
    assert.deepEqual(env, {
      REDIS_MASTER_SERVICE_HOST: '10.0.0.11',
      REDIS_MASTER_SERVICE_PORT: '6379',
      REDIS_MASTER_PORT: 'tcp://10.0.0.11:6379',
      REDIS_MASTER_PORT_6379_TCP: 'tcp://10.0.0.11:6379',
      REDIS_MASTER_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_MASTER_PORT_6379_TCP_PORT: '6379',
      REDIS_MASTER_PORT_6379_TCP_ADDR: '10.0.0.11',
    });
  });

  it('names every named port and uses the first port for SERVICE_PORT', () => {
    const env = serviceLinkEnv([{ name: 'web', clusterIP: '127.96.0.3', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns-udp', port: 53, protocol: 'UDP' }] }]);
    assert.equal(env.WEB_SERVICE_PORT, '80');
    assert.equal(env.WEB_SERVICE_PORT_HTTP, '80');
    assert.equal(env.WEB_SERVICE_PORT_DNS_UDP, '53');
    assert.equal(env.WEB_PORT_53_UDP, 'udp://127.96.0.3:53');
  });

  it('skips services without a virtual IP or without ports', () => {
    assert.deepEqual(serviceLinkEnv([{ name: 'headless', ports: [{ port: 80, protocol: 'TCP' }] }, { name: 'noports', clusterIP: '127.96.0.4', ports: [] }]), {});
  });

  it('upper-cases names, turns dashes into underscores and guards a leading digit', () => {
    assert.equal(envName('my-svc'), 'MY_SVC');
    assert.equal(envName('3d'), '_3D');
  });
});
