import { parseServiceSpec } from '../src/model/index.js';
const T0 = Date.parse('2026-01-01T00:00:00Z');
export const iso = (ms) => new Date(ms).toISOString();
export { T0 };
export function spec(overrides = {}) {
    return parseServiceSpec({ name: 'web', containers: [{ command: ['node', 'server.js'], ports: [{ containerPort: 8080 }] }], ...overrides });
}
export function service(overrides = {}) {
    const { deployed = true, desired = 'running', generation = 1, restartGeneration = 0, phase = 'deploying', ...specOverrides } = overrides;
    const s = spec(specOverrides);
    return {
        id: 'svc-1', grid: 'default', name: s.name, version: 1, generation,
        createdAt: iso(T0), updatedAt: iso(T0), spec: s,
        deployment: deployed ? { generation, spec: s, requestedAt: iso(T0), restartGeneration } : null,
        desired,
        status: { phase, desiredInstances: 0, runningInstances: 0, observedGeneration: 0, message: '', updatedAt: iso(T0) },
    };
}
let seq = 0;
export function instance(overrides = {}) {
    const { state = 'running', exitCode, startedAt, finishedAt, createdAt, ...rest } = overrides;
    seq++;
    const slot = rest.slot ?? 1;
    return {
        id: `web-${slot}-${seq}`, grid: 'default', service: 'web', serviceId: 'svc-1', slot, node: 'node-1',
        generation: 1, restartGeneration: 0, restarts: 0, version: seq, createdAt: iso(createdAt ?? T0 + seq),
        spec: { containers: spec().containers, address: `127.10.0.${slot}`, restartPolicy: spec().restartPolicy, env: {} },
        desiredState: 'running',
        ...rest,
        status: {
            state, timestamp: iso(finishedAt ?? T0), message: state,
            ...(startedAt !== undefined ? { startedAt: iso(startedAt) } : {}),
            ...(finishedAt !== undefined ? { finishedAt: iso(finishedAt) } : {}),
            ...(exitCode !== undefined ? { exitCode } : {}),
        },
    };
}
/** A ready, active node with 2 CPUs and 4 GiB; `extra` overrides any field (labels, availability, capacity…). */
export function node(name = 'node-1', extra = {}) {
    return {
        name, address: '127.0.0.1', drivers: ['process'], labels: {}, availability: 'active', os: 'linux', arch: 'x86_64',
        capacity: { cpus: 2, memoryBytes: 4 * 1024 ** 3 }, ready: true, heartbeatAt: iso(T0), version: 1, ...extra,
    };
}
//# sourceMappingURL=fixtures.js.map