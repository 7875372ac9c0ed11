import { describe, expect, it } from 'vitest';
import { locateErrors, readSpec } from './locate-errors.js';

const SPEC = `name: web
labels:
  tier: front
containers:
  - name: app
    command: [sleep, "1000"]
    ports:
      - name: http
        containerPort: 8080
      - name: Bad_Name
        containerPort: 8081
ports:
  - port: 80
`;

const cause = (field: string, message = `${field}: Invalid value`) => ({ field, message });

describe('YAML error mapping', () => {
  it('puts a nested field of an array item at its own line', () => {
    expect(locateErrors(SPEC, [cause('spec.containers[0].ports[1].name')])).toEqual([{ line: 10, message: 'spec.containers[0].ports[1].name: Invalid value', field: 'spec.containers[0].ports[1].name' }]);
    expect(locateErrors(SPEC, [cause('spec.labels.tier')])[0]?.line).toBe(3);
    expect(locateErrors(SPEC, [cause('spec.name')])[0]?.line).toBe(1);
  });

  it('points a missing field at its nearest parent that is written', () => {
    // spec.ports[0].name is not written: the ports item (line 13) is.
    expect(locateErrors(SPEC, [cause('spec.ports[0].name', 'spec.ports[0].name: Required value')])).toMatchObject([{ line: 13, message: 'spec.ports[0].name: Required value' }]);
    expect(locateErrors(SPEC, [cause('spec.containers[0].readinessProbe.httpGet.port')])[0]?.line).toBe(5);
    // Nothing of spec.replicas is written: the whole document (line 1).
    expect(locateErrors(SPEC, [cause('spec.replicas')])[0]?.line).toBe(1);
    expect(locateErrors(SPEC, [{ field: '', message: 'no addresses left' }])[0]?.line).toBe(1);
  });

  it('sorts several causes by line', () => {
    const lines = locateErrors(SPEC, [cause('spec.ports[0].port'), cause('spec.containers[0].ports[1].name'), cause('spec.labels.tier')]).map((e) => e.line);
    expect(lines).toEqual([3, 10, 13]);
  });

  it('maps fields of a whole service as show -o yaml prints it to the lines under spec:', () => {
    const shown = `id: 4b9a
name: web
grid: default
version: 7
spec:
  name: web
  containers:
    - command: [sleep, "1000"]
      ports:
        - name: Bad_Name
          containerPort: 8080
status:
  phase: running
`;
    expect(locateErrors(shown, [cause('spec.containers[0].ports[0].name')])[0]?.line).toBe(10);
    // Not written: the spec mapping itself, whose first field is on line 6.
    expect(locateErrors(shown, [cause('spec.replicas')])[0]?.line).toBe(6);
    const read = readSpec(shown);
    expect(read.ok && read.spec).toEqual({ name: 'web', containers: [{ command: ['sleep', '1000'], ports: [{ name: 'Bad_Name', containerPort: 8080 }] }] });
  });

  it('reads a bare spec without its kind', () => {
    const read = readSpec(`kind: Service\n${SPEC}`);
    expect(read.ok && read.spec.name).toBe('web');
    expect(read.ok && 'kind' in read.spec).toBe(false);
  });

  it('shows YAML syntax errors at their line, whatever the causes', () => {
    const broken = 'name: web\ncontainers:\n  - command: [sleep, 1000\n    ports: []\n';
    const errors = locateErrors(broken, [cause('spec.name')]);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.line).toBeGreaterThanOrEqual(3);
    expect(errors[0]?.message).not.toMatch(/\n/);
    const tabs = 'name: web\ncontainers:\n\t- command: x\n';
    expect(readSpec(tabs)).toMatchObject({ ok: false, errors: [{ line: 3 }] });
  });

  it('refuses what is not one service spec, at the offending line', () => {
    expect(readSpec('- a\n- b\n')).toMatchObject({ ok: false, errors: [{ line: 1, message: expect.stringMatching(/not a mapping/) }] });
    expect(readSpec('')).toMatchObject({ ok: false, errors: [{ line: 1, message: expect.stringMatching(/empty/) }] });
    expect(readSpec('name: a\n---\nname: b\n')).toMatchObject({ ok: false });
    expect(readSpec('kind: Deployment\nname: a\n')).toMatchObject({ ok: false, errors: [{ line: 1, message: expect.stringMatching(/kind/) }] });
    // A spec field written beside `spec:` instead of under it (shown-service.ts).
    expect(readSpec('name: web\nreplicas: 2\nspec:\n  name: web\n')).toMatchObject({ ok: false, errors: [{ line: 2, message: expect.stringMatching(/replicas/) }] });
  });
});
