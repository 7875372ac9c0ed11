import type { FieldError } from './field-error.js';
import { imageReferenceProblem } from './image-reference.js';
import { formatMemoryBytes } from '../lib/index.js';
import type { ParsedServiceSpec } from './service-spec.js';

/*
 * The rules of Swarm's ContainerSpec fields that need more than one field (docs/spec.md, "Containers
 * with an image"): images all or none, the image reference's syntax, the fields that only the docker
 * driver can honour, mounts, resources and reserved label keys. parseServiceSpec runs them after the
 * schema; each error names its field and the fix.
 */

/** Container label keys with this prefix are berth's own (io.berth.grid, io.berth.service …): the driver sets them. */
export const RESERVED_LABEL_PREFIX = 'io.berth.';

/** Docker's minimum memory limit (daemon: "Minimum memory limit allowed is 6MB"): 6 MiB. */
export const MIN_MEMORY_LIMIT_BYTES = 6 * 1024 * 1024;

/** Docker's volume name rule (RestrictedNamePattern, at least two characters). */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

type ParsedContainer = ParsedServiceSpec['containers'][number];

/**
 * Errors of the image-related fields of every container of `spec`.
 * @param at  turns a path inside the spec (`containers[0].image`) into a field (`spec.containers[0].image`)
 */
export function containerImageErrors(spec: ParsedServiceSpec, at: (path: string) => string): FieldError[] {
  const errors: FieldError[] = [];
  const withImage = spec.containers.map((c) => c.image !== undefined);
  const first = withImage.indexOf(true);
  if (first >= 0 && withImage.includes(false)) {
    // The containers of an instance share one sandbox (network namespace): one driver runs them all.
    const named = spec.containers[first]?.name ?? String(first);
    withImage.forEach((has, i) => {
      if (!has) {
        errors.push({
          field: at(`containers[${i}].image`),
          type: 'Required value',
          detail: `the containers of a service share one instance sandbox, so either every container has an image or none does; containers[${first}] (${named}) has one: give this one an image too, or run that one as a process (no image)`,
        });
      }
    });
  }
  spec.containers.forEach((c, i) => errors.push(...containerErrors(c, `containers[${i}]`, at)));
  return errors;
}

function containerErrors(c: ParsedContainer, path: string, at: (path: string) => string): FieldError[] {
  const errors: FieldError[] = [];
  const field = (name: string): string => at(`${path}.${name}`);
  if (c.image !== undefined) {
    const problem = imageReferenceProblem(c.image);
    if (problem) errors.push({ field: field('image'), type: 'Invalid value', value: c.image, detail: problem });
  } else {
    // Fields only the docker driver honours: a process container would silently run without them.
    const dockerOnly: [keyof ParsedContainer, string][] = [
      ['imagePullPolicy', 'an image pull policy applies to an image'],
      ['hostname', 'a process shares the host\'s hostname'],
      ['mounts', 'a process sees the host\'s file system'],
      ['resources', 'limits and reservations are enforced by Docker'],
    ];
    for (const [key, why] of dockerOnly) {
      if (given(c[key])) errors.push({ field: field(key), type: 'Forbidden', detail: `may only be set on a container with an image (${why}); give the container an image, or remove ${key}` });
    }
  }
  for (const key of Object.keys(c.labels ?? {})) {
    if (key.toLowerCase().startsWith(RESERVED_LABEL_PREFIX)) {
      errors.push({ field: field(`labels[${JSON.stringify(key)}]`), type: 'Invalid value', value: key, detail: `label keys starting with "${RESERVED_LABEL_PREFIX}" are berth's own (it labels every container with its grid, service and instance); choose another key, e.g. "example.com/${key.slice(RESERVED_LABEL_PREFIX.length) || 'name'}"` });
    }
  }
  if (c.image !== undefined) {
    errors.push(...mountErrors(c, path, at));
    errors.push(...resourceErrors(c, path, at));
  }
  return errors;
}

function mountErrors(c: ParsedContainer, path: string, at: (path: string) => string): FieldError[] {
  const errors: FieldError[] = [];
  const targets = new Map<string, number>();
  (c.mounts ?? []).forEach((m, j) => {
    const field = (name: string): string => at(`${path}.mounts[${j}].${name}`);
    const target = normalizePath(m.target);
    if (target === '/') errors.push({ field: field('target'), type: 'Invalid value', value: m.target, detail: 'may not be "/" (the container\'s root); mount at a directory such as /data' });
    else if (targets.has(target)) errors.push({ field: field('target'), type: 'Duplicate value', value: m.target, detail: `mounts[${targets.get(target) ?? 0}] mounts at ${target} already: a target takes one mount` });
    else targets.set(target, j);
    if (m.type === 'bind') {
      if (m.source === undefined) errors.push({ field: field('source'), type: 'Required value', detail: 'a bind mount needs the absolute host path to mount, e.g. source: /srv/data' });
      else if (!m.source.startsWith('/')) errors.push({ field: field('source'), type: 'Invalid value', value: m.source, detail: 'a bind mount\'s source must be an absolute host path (start with /); for a named volume use type: volume' });
    } else if (m.type === 'volume') {
      if (m.source !== undefined && !VOLUME_NAME.test(m.source)) {
        const detail = m.source.startsWith('/')
          ? 'a volume\'s source is a volume name, not a path; to mount a host path use type: bind'
          : 'a volume name is at least 2 characters: letters, digits, "_", "." or "-", starting with a letter or digit (Docker\'s rule)';
        errors.push({ field: field('source'), type: 'Invalid value', value: m.source, detail });
      }
    } else if (m.source !== undefined) {
      errors.push({ field: field('source'), type: 'Forbidden', detail: 'a tmpfs mount has no source (it is a file system in memory); remove source' });
    }
    if (m.tmpfsSize !== undefined && m.type !== 'tmpfs') {
      errors.push({ field: field('tmpfsSize'), type: 'Forbidden', detail: `applies to tmpfs mounts only, not ${m.type}; remove tmpfsSize` });
    } else if (m.tmpfsSize === 0) {
      errors.push({ field: field('tmpfsSize'), type: 'Invalid value', value: 0, detail: 'must be greater than 0 bytes (leave it out for Docker\'s default size)' });
    }
  });
  return errors;
}

function resourceErrors(c: ParsedContainer, path: string, at: (path: string) => string): FieldError[] {
  const errors: FieldError[] = [];
  const { limits, reservations } = c.resources ?? {};
  const field = (name: string): string => at(`${path}.resources.${name}`);
  if (limits?.memory !== undefined && limits.memory < MIN_MEMORY_LIMIT_BYTES) {
    errors.push({ field: field('limits.memory'), type: 'Invalid value', value: limits.memory, detail: `must be at least 6Mi (${MIN_MEMORY_LIMIT_BYTES} bytes, Docker's minimum memory limit)` });
  }
  if (reservations?.memory === 0) {
    errors.push({ field: field('reservations.memory'), type: 'Invalid value', value: 0, detail: 'must be greater than 0 bytes (leave it out to reserve nothing)' });
  }
  if (limits?.memory !== undefined && reservations?.memory !== undefined && reservations.memory > limits.memory) {
    errors.push({ field: field('reservations.memory'), type: 'Invalid value', value: reservations.memory, detail: `must be at most the memory limit (${formatMemoryBytes(limits.memory)}); lower the reservation or raise limits.memory` });
  }
  if (limits?.cpus !== undefined && reservations?.cpus !== undefined && reservations.cpus > limits.cpus) {
    errors.push({ field: field('reservations.cpus'), type: 'Invalid value', value: reservations.cpus, detail: `must be at most the CPU limit (${limits.cpus}); lower the reservation or raise limits.cpus` });
  }
  return errors;
}

/** Set to something: not undefined, and not empty (`mounts: []`, `resources: { limits: {} }` ask for nothing). */
function given(value: unknown): boolean {
  if (value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.values(value).some(given);
  return true;
}

/** `/data/./x/` → `/data/x` (lexical, POSIX; model/ runs in the browser too). */
function normalizePath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
