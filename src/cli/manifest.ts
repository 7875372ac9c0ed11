import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import type { ServiceSpecInput } from '../model/index.js';
import { ShownServiceError, fieldPath, firstLine, locateField, nodeStart, unwrapShownService } from '../lib/index.js';
import { CliError } from './cli-error.js';
import type { KubeDocument } from './kube-manifest.js';
import { KubeManifestError, fromKubernetes, mergeWorkloadAndService } from './kube-manifest.js';

/*
 * A manifest: a YAML file of service specs, one per document (`---` between them), as `berth apply`,
 * `up` and `down` read it. Each document is a service spec with two optional extra keys, removed
 * before sending: `kind: Service` and `grid:` (overrides --grid for that service). A document may also
 * be a whole service as `berth service show -o yaml` prints it: its spec is read from `spec:` and the
 * fields the server writes (id, version, status …) are ignored (lib/shown-service.ts).
 */

export interface ManifestService {
  /** 1-based position of the document in the file. */
  readonly index: number;
  readonly name: string;
  /** The document's `grid:`, when it has one. */
  readonly grid?: string;
  /**
   * The spec to send: `kind`/`grid` removed, process containers' working directories resolved. Typed
   * as input but not checked here: the server validates it and names every bad field.
   */
  readonly spec: ServiceSpecInput;
  /**
   * `app.yaml:7:9` — where the value at a spec field path (`spec.containers[0].command`, as the API's
   * field errors name it) is written, or its nearest parent that is.
   */
  locate(field: string): string;
}

export interface Manifest {
  /** The file as the user named it, or `<stdin>`. */
  readonly source: string;
  /** Directory relative working directories are resolved against. */
  readonly dir: string;
  readonly services: readonly ManifestService[];
}

/**
 * Parses manifest text.
 * @param options.source  the name shown in error locations (`app.yaml`)
 * @param options.dir     the manifest's directory: containers without an image run there unless they
 *   say otherwise, and a relative `workingDir` is resolved against it
 * @throws CliError `app.yaml:3:5: <what is wrong>` for YAML errors, documents that are not a mapping,
 *   another `kind`, or a missing name
 */
export function parseManifest(text: string, options: { readonly source: string; readonly dir: string }): Manifest {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter });
  const docs: Document.Parsed[] = Array.isArray(documents) ? documents : [];
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${options.source}:${line}:${col}`;
  };
  const services: ManifestService[] = [];
  const names = new Map<string, number>();
  /** Kubernetes objects by grid/name: a Deployment and its Service of the same name become one service. */
  const kubes = new Map<string, { readonly kube: KubeDocument; readonly locate: (field: string) => string; readonly at: number }>();
  docs.forEach((doc, i) => {
    const index = i + 1;
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0];
      const where = pos ? `${options.source}:${pos.line}:${pos.col}` : at(error.pos[0]);
      throw new CliError(`${where}: ${firstLine(error.message)}`);
    }
    // An empty document, e.g. after a trailing `---`, or one holding only comments.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;
    const start = doc.contents.range?.[0] ?? 0;
    if (!isMap(doc.contents)) throw new CliError(`${at(start)}: document ${index} is not a mapping: each document is one service spec`);
    const js = doc.toJS() as Record<string, unknown>;
    // A Kubernetes object (`apiVersion`: a v1 Service, an apps/v1 Deployment), as the Kubernetes pages write them.
    let kube;
    try {
      kube = fromKubernetes(js);
    } catch (e) {
      if (!(e instanceof KubeManifestError)) throw e;
      throw new CliError(`${at(nodeStart(doc, e.path) ?? start)}: document ${index}: ${e.message}`);
    }
    if (kube) {
      const { document, pathOf } = kube;
      const kubeGrid = typeof document['grid'] === 'string' ? document['grid'] : undefined;
      const kubeName = document['name'] as string;
      const key = `${kubeGrid ?? ''}/${kubeName}`;
      const locate = (field: string): string => {
        const [top, ...rest] = fieldPath(field);
        return at((top === undefined ? undefined : locateField(doc, fieldPathText(rest), pathOf(String(top)))) ?? start);
      };
      const before = names.get(key);
      const pair = kubes.get(key);
      if (before !== undefined && pair !== undefined) {
        const merged = mergeWorkloadAndService(pair.kube, kube);
        const where = at(nodeStart(doc, ['metadata', 'name']) ?? start);
        if (typeof merged === 'string') throw new CliError(`${where}: service ${kubeName} is declared twice (documents ${before} and ${index}): ${merged}`);
        kubes.delete(key); // a third of that name is declared twice
        const { grid: _g, ...spec } = merged.document;
        const other = pair.locate;
        const serviceLocate = kube.kind === 'Service' ? locate : other;
        const workloadLocate = kube.kind === 'Service' ? other : locate;
        services[pair.at] = {
          index: before,
          name: kubeName,
          ...(kubeGrid === undefined ? {} : { grid: kubeGrid }),
          spec: spec as ServiceSpecInput,
          locate: (field) => (merged.fromService(String(fieldPath(field)[0] ?? '')) ? serviceLocate : workloadLocate)(field),
        };
        return;
      }
      if (before !== undefined) throw new CliError(`${at(nodeStart(doc, ['metadata', 'name']) ?? start)}: service ${kubeName} is declared twice (documents ${before} and ${index})`);
      names.set(key, index);
      kubes.set(key, { kube, locate, at: services.length });
      const { grid: _g, ...spec } = document;
      resolveWorkingDirs(spec, options.dir);
      services.push({ index, name: kubeName, ...(kubeGrid === undefined ? {} : { grid: kubeGrid }), spec: spec as ServiceSpecInput, locate });
      return;
    }
    let shown;
    try {
      shown = unwrapShownService(js);
    } catch (e) {
      if (!(e instanceof ShownServiceError)) throw e;
      throw new CliError(`${at(nodeStart(doc, [e.key]) ?? start)}: document ${index}: ${e.message}`);
    }
    // `show -o yaml` output: the spec is under `spec:` (lib/shown-service.ts); field paths point there.
    const specPath = shown?.specPath ?? [];
    const raw = shown?.document ?? (doc.toJS() as Record<string, unknown>);
    const { kind, grid, ...spec } = raw;
    if (kind !== undefined && kind !== 'Service') {
      throw new CliError(`${at(nodeStart(doc, ['kind']) ?? start)}: document ${index} has kind ${JSON.stringify(kind)}: a berth manifest holds services (kind: Service)`);
    }
    if (grid !== undefined && typeof grid !== 'string') throw new CliError(`${at(nodeStart(doc, ['grid']) ?? start)}: grid must be a string`);
    if (typeof spec['name'] !== 'string' || spec['name'] === '') {
      throw new CliError(`${at(nodeStart(doc, [...specPath, 'name']) ?? nodeStart(doc, ['name']) ?? start)}: document ${index} has no name: every service needs \`name:\``);
    }
    const name = spec['name'];
    const earlier = names.get(`${grid ?? ''}/${name}`);
    if (earlier !== undefined) throw new CliError(`${at(nodeStart(doc, [...specPath, 'name']) ?? nodeStart(doc, ['name']) ?? start)}: service ${name} is declared twice (documents ${earlier} and ${index})`);
    names.set(`${grid ?? ''}/${name}`, index);
    resolveWorkingDirs(spec, options.dir);
    services.push({
      index,
      name,
      ...(grid === undefined ? {} : { grid }),
      spec: spec as ServiceSpecInput,
      locate: (field) => at(locateField(doc, field, specPath) ?? start),
    });
  });
  return { source: options.source, dir: options.dir, services };
}

/**
 * Reads a manifest file, or stdin for `-`.
 * @throws CliError when the file cannot be read, or as parseManifest
 */
export async function readManifest(file: string, io: { readonly cwd: string; readonly stdin: NodeJS.ReadableStream }): Promise<Manifest> {
  if (file === '-') return parseManifest(await readAll(io.stdin), { source: '<stdin>', dir: io.cwd });
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseManifest(text, { source: file, dir: dirname(path) });
}

/** Containers without an image run as processes: in the manifest's directory unless they say where. */
function resolveWorkingDirs(spec: Record<string, unknown>, dir: string): void {
  const containers = spec['containers'];
  if (!Array.isArray(containers)) return;
  for (const container of containers as unknown[]) {
    if (typeof container !== 'object' || container === null) continue;
    const c = container as Record<string, unknown>;
    if (c['image'] !== undefined) continue;
    const wd = c['workingDir'];
    if (wd === undefined || wd === null) c['workingDir'] = dir;
    else if (typeof wd === 'string' && !isAbsolute(wd)) c['workingDir'] = resolve(dir, wd);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** A field path's parts written back as one (`['ports', 0, 'name']` → `ports[0].name`), for locateField. */
function fieldPathText(parts: readonly (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
