import { describe, expect, it } from 'vitest';
import { parseServiceSpec } from '../../../src/model/index.js';
import type { WorkloadForm } from './form-model.js';
import { advancedErrors, basicErrors, containersErrors, emptyBasic, emptyContainer, emptyPort, externalErrors, formFieldOfCause, newWorkloadForm, selectorErrors, volumesErrors } from './form-model.js';
import { externalSpec, selectorSpec, workloadSpec } from './form-spec.js';

function form(edit: (f: WorkloadForm) => void): WorkloadForm {
  const f = newWorkloadForm();
  f.basic = { ...emptyBasic(), name: 'shop', alias: 'Shop front', description: 'the shop' };
  f.containers = [{ ...emptyContainer('command'), command: 'node server.mjs', workingDir: '/srv', ports: [{ ...emptyPort(), name: 'http', containerPort: '8080', servicePort: '80' }] }];
  edit(f);
  return f;
}

describe('form → spec', () => {
  it('maps a stateless form with NodePort and sticky session to a spec the server takes', () => {
    const f = form((f) => {
      f.advanced = { ...f.advanced, replicas: '3', internet: 'NodePort', sticky: true, labels: 'tier=web' };
      f.containers[0]!.env = [{ name: 'GREETING', value: 'hi there' }];
      f.containers[0]!.probe = { ...f.containers[0]!.probe, kind: 'http', path: '/health', port: 'http', periodSeconds: '2' };
    });
    expect({ ...basicErrors(f.basic), ...containersErrors(f.containers), ...advancedErrors(f) }).toEqual({});
    const spec = parseServiceSpec(workloadSpec(f, 'stateless'));
    expect(spec.replicas).toBe(3);
    expect(spec.type).toBe('NodePort');
    expect(spec.sessionAffinity).toBe('ClientIP');
    expect(spec.sessionAffinityConfig?.clientIP.timeoutSeconds).toBe(10800);
    expect(spec.labels).toEqual({ tier: 'web', version: 'v1' });
    expect(spec.annotations).toEqual({ 'berth.io/alias': 'Shop front', 'berth.io/description': 'the shop' });
    expect(spec.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }]);
    expect(spec.containers[0]?.command).toEqual(['node', 'server.mjs']);
    expect(spec.containers[0]?.env).toEqual([{ name: 'GREETING', value: 'hi there' }]);
    expect(spec.containers[0]?.readinessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
    expect(spec.stateful).toBe(false);
    expect(spec.updateConfig).toMatchObject({ parallelism: 1, order: 'stop-first', failureAction: 'pause' });
  });

  it('maps headless access, a node port, start-first updates and per-slot volumes of a stateful image service', () => {
    const f = form((f) => {
      f.containers = [{ ...emptyContainer('image'), image: 'postgres:16', ports: [{ ...emptyPort(), containerPort: '5432', nodePort: '30432' }], volumes: ['/var/lib/postgresql/data'] }];
      f.advanced = { ...f.advanced, internet: 'LoadBalancer', order: 'start-first', failureAction: 'rollback', parallelism: '2' };
    });
    expect({ ...containersErrors(f.containers), ...volumesErrors(f.containers), ...advancedErrors(f) }).toEqual({});
    const spec = parseServiceSpec(workloadSpec(f, 'stateful'));
    expect(spec.stateful).toBe(true);
    expect(spec.type).toBe('LoadBalancer');
    expect(spec.ports[0]).toMatchObject({ port: 5432, targetPort: 5432, nodePort: 30432 });
    expect(spec.containers[0]?.mounts).toEqual([{ type: 'volume', target: '/var/lib/postgresql/data', readOnly: false }]);
    expect(spec.updateConfig).toMatchObject({ parallelism: 2, order: 'start-first', failureAction: 'rollback' });
  });

  it('refuses each step with the field that is wrong', () => {
    expect(basicErrors({ ...emptyBasic(), name: 'Shop', version: 'V1' })).toEqual({ name: expect.stringMatching(/Lower-case/), version: expect.stringMatching(/lower-case letters and digits/) });
    expect(containersErrors([])).toEqual({ containers: 'Add at least one container.' });
    const two = [{ ...emptyContainer(), command: 'sleep 1' }, { ...emptyContainer('image'), image: 'nginx' }];
    expect(containersErrors(two)).toMatchObject({ 'c0-name': expect.any(String), 'c1-name': expect.any(String), containers: expect.stringMatching(/every container runs an image or none/) });
    const ports = [{ ...emptyPort(), containerPort: '80' }, { ...emptyPort(), containerPort: '99999' }];
    expect(containersErrors([{ ...emptyContainer(), command: 'x', ports }])).toMatchObject({ 'c0-port0-name': expect.stringMatching(/more than one port/), 'c0-port1-container': expect.stringMatching(/1 to 65535/) });
    const sticky = form((f) => (f.advanced = { ...f.advanced, sticky: true, timeout: '0', replicas: '1001' }));
    expect(advancedErrors(sticky)).toMatchObject({ timeout: expect.any(String), replicas: expect.any(String) });
    expect(volumesErrors([{ ...emptyContainer('image'), volumes: ['data', '/'] }])).toMatchObject({ 'c0-vol0': expect.stringMatching(/absolute/), 'c0-vol1': expect.stringMatching(/Cannot be \//) });
    const noPorts = form((f) => {
      f.containers[0]!.ports = [];
      f.advanced = { ...f.advanced, internet: 'NodePort' };
    });
    expect(advancedErrors(noPorts)).toMatchObject({ internet: expect.stringMatching(/at least one container port/) });
    const headlessExposed = form((f) => (f.advanced = { ...f.advanced, access: 'headless', internet: 'NodePort' }));
    expect(advancedErrors(headlessExposed)).toMatchObject({ internet: expect.stringMatching(/headless/) });
    expect(() => parseServiceSpec(workloadSpec(headlessExposed, 'stateless'))).toThrow(/clusterIP/);
    const headless = form((f) => (f.advanced = { ...f.advanced, access: 'headless' }));
    expect(parseServiceSpec(workloadSpec(headless, 'stateless')).clusterIP).toBe('None');
  });

  it('maps an external service to ExternalName and a workloads form to a selector, both taken by the server', () => {
    const ext = { basic: { ...emptyBasic(), name: 'db', alias: 'Database' }, externalName: 'db.example.org', ports: [{ ...emptyPort(), containerPort: '5432' }] };
    expect(externalErrors(ext)).toEqual({});
    const e = parseServiceSpec(externalSpec(ext));
    expect(e).toMatchObject({ type: 'ExternalName', externalName: 'db.example.org', containers: [], annotations: { 'berth.io/alias': 'Database' } });
    expect(e.labels).toEqual({});
    const sel = { basic: { ...emptyBasic(), name: 'front' }, selector: ['tier=web'], ports: [{ ...emptyPort(), name: 'http', containerPort: '8080', servicePort: '80' }], access: 'vip' as const };
    expect(selectorErrors(sel)).toEqual({});
    expect(parseServiceSpec(selectorSpec(sel))).toMatchObject({ selector: { tier: 'web' }, containers: [], ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
    expect(selectorErrors({ ...sel, ports: [{ ...emptyPort(), containerPort: 'http' }] })).toMatchObject({ 'port0-container': expect.any(String) });
    expect(selectorErrors({ ...sel, selector: ['tier=web', 'tier=db'] })).toMatchObject({ selector: expect.stringMatching(/one value per label key/) });
  });

  it('places a server cause at the form field it is about, on its step', () => {
    const f = form((f) => {
      f.containers = [
        { ...emptyContainer(), name: 'a', command: 'x', ports: [{ ...emptyPort(), name: 'http', containerPort: '80' }] },
        { ...emptyContainer(), name: 'b', command: 'y', ports: [{ ...emptyPort(), name: 'admin', containerPort: '81' }, { ...emptyPort(), name: 'metrics', containerPort: '82' }] },
      ];
    });
    expect(formFieldOfCause('spec.name', f)).toEqual({ key: 'name', step: 'basic' });
    expect(formFieldOfCause('spec.labels.version', f)).toEqual({ key: 'version', step: 'basic' });
    expect(formFieldOfCause('spec.containers[1].image', f)).toEqual({ key: 'c1-image', step: 'containers' });
    expect(formFieldOfCause('spec.containers[1].ports[1].name', f)).toEqual({ key: 'c1-port1-name', step: 'containers' });
    expect(formFieldOfCause('spec.containers[0].env[2].name', f)).toEqual({ key: 'c0-env2-name', step: 'containers' });
    expect(formFieldOfCause('spec.containers[0].mounts[0].target', f)).toEqual({ key: 'c0-vol0', step: 'volumes' });
    // Service ports are the container ports in order: the third is container b's second.
    expect(formFieldOfCause('spec.ports[2].nodePort', f)).toEqual({ key: 'c1-port1-node', step: 'advanced' });
    expect(formFieldOfCause('spec.ports[0].port', f)).toEqual({ key: 'c0-port0-service', step: 'containers' });
    expect(formFieldOfCause('spec.ports[9].nodePort', f)).toBeUndefined();
    expect(formFieldOfCause('spec.replicas', f)).toEqual({ key: 'replicas', step: 'advanced' });
    expect(formFieldOfCause('spec.sessionAffinityConfig.clientIP.timeoutSeconds', f)).toEqual({ key: 'timeout', step: 'advanced' });
    expect(formFieldOfCause('spec.placement', f)).toBeUndefined();
  });
});
