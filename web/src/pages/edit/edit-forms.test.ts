import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from '../../../../src/model/index.js';
import { WORKLOAD_FIELDS } from '../../../../src/model/deploy-state.js';
import { parseServiceSpec } from '../../../../src/model/index.js';
import { internetForm } from './internet-form.js';
import { DESCRIPTION_ANNOTATION, metadataForm } from './metadata-form.js';
import { serviceForm } from './service-form.js';

const spec = (input: Record<string, unknown>): ServiceSpec => parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '100'] }], ...input });
/** What the server would store for the form's output (parsing proves the output is a valid input). */
const roundTrip = (s: ServiceSpec): ServiceSpec => parseServiceSpec(s as unknown as Record<string, unknown>);

describe('Edit (metadata) form', () => {
  const stored = spec({ labels: { app: 'shop', tier: 'web' }, annotations: { 'berth.io/alias': 'Shop front', [DESCRIPTION_ANNOTATION]: 'the shop', 'team': 'a' } });

  it('reads alias and description apart from the other annotations', () => {
    const v = metadataForm.read(stored);
    expect(v.alias).toBe('Shop front');
    expect(v.description).toBe('the shop');
    expect(v.annotations).toEqual([{ key: 'team', value: 'a' }]);
    expect(v.labels).toEqual([{ key: 'app', value: 'shop' }, { key: 'tier', value: 'web' }]);
  });

  it('writes alias, labels and annotations and leaves every other field as stored', () => {
    const v = metadataForm.read(stored);
    const out = roundTrip(metadataForm.apply(stored, { ...v, alias: 'Shop', labels: [{ key: 'app', value: 'shop' }, { key: 'env', value: 'prod' }, { key: '', value: '' }] }) as ServiceSpec);
    expect(out.labels).toEqual({ app: 'shop', env: 'prod' });
    expect(out.annotations).toEqual({ 'berth.io/alias': 'Shop', [DESCRIPTION_ANNOTATION]: 'the shop', team: 'a' });
    expect({ ...out, labels: stored.labels, annotations: stored.annotations }).toEqual(stored);
  });

  it('drops annotations from the spec when none is left, and keeps a key-less row for the server to refuse', () => {
    const out = metadataForm.apply(stored, { alias: ' ', description: '', labels: [{ key: '', value: 'orphan' }], annotations: [] });
    expect('annotations' in out).toBe(false);
    expect(out.labels).toEqual({ '': 'orphan' });
  });

  it('changes no workload field, so saving needs no deploy', () => {
    const out = metadataForm.apply(stored, { alias: 'x', description: 'y', labels: [], annotations: [{ key: 'k', value: 'v' }] }) as ServiceSpec;
    for (const f of WORKLOAD_FIELDS) expect(out[f]).toEqual(stored[f]);
  });
});

describe('Edit Service form', () => {
  it('keeps the allocated virtual IP, sets None for headless and asks for a new address when a headless service gets one', () => {
    const vip = spec({ clusterIP: '127.96.0.4', ports: [{ port: 80 }] });
    expect(serviceForm.apply(vip, serviceForm.read(vip)).clusterIP).toBe('127.96.0.4');
    expect(serviceForm.apply(vip, { ...serviceForm.read(vip), access: 'headless' }).clusterIP).toBe('None');
    const headless = spec({ clusterIP: 'None' });
    expect(serviceForm.read(headless).access).toBe('headless');
    expect(serviceForm.apply(headless, { ...serviceForm.read(headless), access: 'virtual-ip' }).clusterIP).toBe('');
  });

  it('writes the ports typed, keeping node and published ports by position, numbers as numbers and names as names', () => {
    const s = spec({
      containers: [{ command: ['sleep', '100'], ports: [{ name: 'web', containerPort: 8081 }] }],
      type: 'NodePort',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, published: 8000 }],
    });
    const v = serviceForm.read(s);
    expect(v.ports).toEqual([{ name: 'http', protocol: 'TCP', port: '80', targetPort: '8080' }]);
    const out = roundTrip(serviceForm.apply(s, { ...v, ports: [{ ...v.ports[0]!, port: '81', targetPort: 'web' }, { name: 'dns', protocol: 'UDP', port: '53', targetPort: '' }] }) as ServiceSpec);
    expect(out.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 81, targetPort: 'web', nodePort: 30080, published: 8000 },
      { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
    ]);
  });

  it('edits the selector of a service without containers only', () => {
    const workloads = spec({ containers: [], selector: { app: 'shop' }, ports: [{ port: 80 }] });
    expect(serviceForm.apply(workloads, { ...serviceForm.read(workloads), selector: [{ key: 'app', value: 'cart' }] }).selector).toEqual({ app: 'cart' });
    const withContainers = spec({});
    expect(serviceForm.apply(withContainers, { ...serviceForm.read(withContainers), selector: [{ key: 'app', value: 'x' }] }).selector).toBeUndefined();
  });
});

describe('Edit Internet Access form', () => {
  const s = spec({ ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 81, published: 9001 }] });

  it('turns NodePort on with a node port asked for one port and left to the server for the other', () => {
    const v = internetForm.read(s);
    expect(v).toEqual({ type: 'ClusterIP', nodePorts: ['', ''], published: ['', '9001'], externalIPs: '' });
    const out = roundTrip(internetForm.apply(s, { ...v, type: 'NodePort', nodePorts: ['30111', ''], externalIPs: '127.0.0.50, 127.0.0.51' }) as ServiceSpec);
    expect(out.type).toBe('NodePort');
    expect(out.ports.map((p) => [p.nodePort, p.published])).toEqual([[30111, undefined], [undefined, 9001]]);
    expect(out.externalIPs).toEqual(['127.0.0.50', '127.0.0.51']);
  });

  it('drops every node port for None (the server refuses a node port on ClusterIP)', () => {
    const np = spec({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
    const out = roundTrip(internetForm.apply(np, { ...internetForm.read(np), type: 'ClusterIP' }) as ServiceSpec);
    expect(out.type).toBe('ClusterIP');
    expect(out.ports[0]?.nodePort).toBeUndefined();
  });

  it('sends a port that is not a number as typed, for the server to name the field', () => {
    const out = internetForm.apply(s, { ...internetForm.read(s), type: 'NodePort', nodePorts: ['abc', ''] });
    expect(out.ports?.[0]?.nodePort).toBe('abc');
  });
});
