import { describe, expect, it } from 'vitest';
import type { Service, ServiceSpec } from '../../../src/model/index.js';
import { parseServiceSpec } from '../../../src/model/index.js';
import { relativeTime } from '../components/relative-time.js';
import { accessOf, exposureOf, matchesFilter, serviceKind } from './service-view.js';

const spec = (input: Record<string, unknown>): ServiceSpec => parseServiceSpec({ name: 'web', containers: [{ command: ['sleep', '100'] }], ...input });
const service = (s: ServiceSpec): Service => ({ name: s.name, spec: s }) as unknown as Service;

describe('service view', () => {
  it('names the kind of a service as KubeSphere does', () => {
    expect(serviceKind(spec({}))).toBe('stateless');
    expect(serviceKind(spec({ stateful: true }))).toBe('stateful');
    expect(serviceKind(spec({ type: 'ExternalName', externalName: 'db.example.org', containers: [] }))).toBe('external');
    expect(serviceKind(spec({ containers: [], selector: { tier: 'db' } }))).toBe('workloads');
    expect(serviceKind(spec({ containers: [], endpoints: ['10.0.0.1:5432'], ports: [{ port: 5432 }] }))).toBe('manual');
  });

  it('shows headless, a virtual IP, or the external name', () => {
    expect(accessOf(spec({ clusterIP: 'None' }))).toBe('headless');
    expect(accessOf(spec({ clusterIP: '127.96.0.9' }))).toBe('127.96.0.9');
    expect(accessOf(spec({ type: 'ExternalName', externalName: 'db.example.org', containers: [] }))).toBe('db.example.org');
  });

  it('lists node ports, published ports and external IPs', () => {
    const s = spec({ type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'https', port: 443, published: 8443 }], externalIPs: ['10.1.2.3'] });
    expect(exposureOf(s)).toEqual(['node :30080/TCP', 'published :8443/TCP', '10.1.2.3 (external)']);
  });

  it('filters by name and by every label term', () => {
    const s = service(spec({ name: 'shop-web', labels: { tier: 'web', env: 'prod' } }));
    expect(matchesFilter(s, 'web', '')).toBe(true);
    expect(matchesFilter(s, 'db', '')).toBe(false);
    expect(matchesFilter(s, '', 'tier=web, env')).toBe(true);
    expect(matchesFilter(s, '', 'tier=db')).toBe(false);
    expect(matchesFilter(s, '', 'zone')).toBe(false);
  });

  it('says times relative to now, past and future', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime('2026-01-01T11:59:30Z', now)).toBe('30s ago');
    expect(relativeTime('2026-01-01T11:00:00Z', now)).toBe('1h ago');
    expect(relativeTime('2025-12-29T12:00:00Z', now)).toBe('3d ago');
    expect(relativeTime('2026-01-01T12:03:00Z', now)).toBe('in 3m');
  });
});
