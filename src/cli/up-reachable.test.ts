import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reachableLine } from './up.js';
import { service, serviceSpec } from './testing/fixtures.js';

describe('reachableLine', () => {
  it('puts the virtual IP and the node ports before the instances', () => {
    const spec = serviceSpec({ name: 'web', type: 'NodePort', clusterIP: '127.96.0.3', ports: [{ name: 'http', protocol: 'TCP', port: 3000, targetPort: 'http', nodePort: 30080 }] });
    const line = reachableLine({ name: 'web', grid: 'default', goal: 'running', service: service({ spec }), instances: [], converged: true });
    assert.equal(line, 'web  http://127.96.0.3:3000 (virtual IP)  http://127.0.0.1:30080 (node port)');
  });

  it('lists a published port after the virtual IP', () => {
    const spec = serviceSpec({ name: 'nginx', clusterIP: '127.96.0.4', ports: [{ protocol: 'TCP', port: 80, targetPort: 80, published: 38080 }] });
    const line = reachableLine({ name: 'nginx', grid: 'default', goal: 'running', service: service({ spec }), instances: [], converged: true });
    assert.equal(line, 'nginx  http://127.96.0.4:80 (virtual IP)  http://127.0.0.1:38080 (published)');
  });
});
