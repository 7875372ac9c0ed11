import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FoundDocker } from './docker-setup.js';
import { NodeContainerNetwork } from './node-container-network.js';

/** An engine as setupDocker finds it; only the network is read here. */
const found = { network: { name: 'berth', subnet: '10.213.0.0/16', gateway: '10.213.0.1' }, host: 'unix:///var/run/docker.sock' } as unknown as FoundDocker;

describe('NodeContainerNetwork', () => {
  it('says nothing and gives no range before an engine is taken in', () => {
    const network = new NodeContainerNetwork(() => [{ spec: { clusterIP: '127.96.0.1' } }]);
    assert.equal(network.record(), undefined);
    assert.deepEqual(network.problems(), []);
    assert.equal(network.containerRange(), undefined);
    assert.equal(network.agentNetwork(), undefined);
  });

  it('re-evaluates the problems when an engine is taken in: loopback virtual IPs under a routed range are counted until none is left', () => {
    let services: { spec: { clusterIP?: string } }[] = [{ spec: { clusterIP: '127.96.0.1' } }, { spec: { clusterIP: '10.214.0.2' } }];
    const network = new NodeContainerNetwork(() => services);
    network.use(found, undefined, { problem: 'containers cannot use berth\'s DNS: listening on 10.213.0.1:53 failed (EACCES)' });
    const record = network.record();
    assert.deepEqual({ ...record, problems: undefined }, { name: 'berth', subnet: '10.213.0.0/16', gateway: '10.213.0.1', problems: undefined });
    assert.equal(record?.problems?.length, 2);
    assert.match(record?.problems?.[0] ?? '', /containers cannot use berth's DNS/);
    assert.match(record?.problems?.[1] ?? '', /^the virtual IPs of 1 service\(s\) are loopback addresses/);
    assert.deepEqual(network.containerRange(), { cidr: '10.213.0.0/16', reserved: ['10.213.0.1'] });
    assert.equal(network.agentNetwork(), undefined, 'no DNS server listens: sandboxes keep the engine\'s resolver');
    services = [{ spec: { clusterIP: '10.214.0.2' } }];
    assert.equal(network.problems().length, 1);
    // Counted no more once none was left, even if a loopback one came back (it cannot: new ones come from the routed range).
    services = [{ spec: { clusterIP: '127.96.0.9' } }];
    assert.equal(network.problems().length, 1);
  });

  it('with a loopback service range, says containers cannot reach virtual IPs, and counts none of them again', () => {
    const network = new NodeContainerNetwork(() => [{ spec: { clusterIP: '127.96.0.1' } }]);
    const routed = 'virtual IPs are in 127.96.0.0/16, loopback addresses a container cannot reach';
    network.use(found, routed, { problem: 'no DNS' });
    assert.deepEqual(network.problems(), [routed, 'no DNS']);
  });
});
