/*
 * The folder dependency rule of ARCHITECTURE.md, checked in CI (`npm run lint`).
 * Arrows point down towards model/ and lib/; only the control plane reaches the store; the data plane
 * gets data through ports and snapshots that app/ wires; nothing imports app/.
 * One deliberate change from ARCHITECTURE.md: model/ may import lib/ (the error base class and
 * duration parsing are domain-free mechanics both need); lib/ still imports nothing of ours.
 */
const allowed = {
  model: ['model', 'lib'],
  lib: ['lib'],
  store: ['store', 'model', 'lib'],
  reconcile: ['reconcile', 'model', 'lib'],
  controllers: ['controllers', 'model', 'lib', 'store', 'reconcile'],
  drivers: ['drivers', 'model', 'lib'],
  health: ['health', 'model', 'lib'],
  dns: ['dns', 'model', 'lib'],
  proxy: ['proxy', 'model', 'lib'],
  agent: ['agent', 'model', 'lib', 'drivers', 'health'],
  // reconcile/ is pure (no I/O, no state): the API calls explainService for `why` (docs/architecture.md).
  api: ['api', 'model', 'lib', 'store', 'reconcile'],
  client: ['client', 'model'],
  cli: ['cli', 'client', 'model', 'lib'],
};
const folders = Object.keys(allowed).concat(['app']);

const forbidden = [
  { name: 'no-cycles', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
  { name: 'nobody-imports-app', severity: 'error', from: { path: '^src/', pathNot: '^src/app/' }, to: { path: '^src/app/' } },
  ...Object.entries(allowed).map(([from, may]) => ({
    name: `${from}-imports-only-${may.join('-')}`,
    severity: 'error',
    from: { path: `^src/${from}/` },
    to: { path: `^src/(${folders.filter((f) => !may.includes(f)).join('|')})/` },
  })),
  {
    name: 'cross-folder-imports-go-through-index',
    severity: 'error',
    from: { path: '^src/([^/]+)/' },
    to: { path: '^src/([^/]+)/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
  },
  {
    name: 'client-and-cli-import-model-types-only',
    severity: 'error',
    from: { path: '^src/(client|cli)/' },
    to: { path: '^src/model/', dependencyTypesNot: ['type-only'] },
  },
  // The console (web/, docs/console.md) is a browser build: it reaches the server through the typed
  // client only, and uses model/ for types, plus pure modules with type-only imports of their own:
  // model/instance-state.ts and instance-health.ts (what "ready" and "ended" mean: one copy),
  // model/deploy-state.ts (what a deploy would change: Edit YAML deploys only then) and
  // model/access.ts (the role table, so that it shows a write button only where the API would allow
  // the request).
  // One exception in lib/: yaml-paths.ts (pure, the npm yaml package and lib/shown-service.ts only), so
  // that the console's YAML editor points at the line of a field the server refused exactly as the
  // CLI's `apply` does (the same path rules, one copy).
  {
    name: 'web-imports-only-client-and-model',
    severity: 'error',
    from: { path: '^web/' },
    to: { path: '^src/', pathNot: ['^src/client/', '^src/model/', '^src/lib/yaml-paths\\.ts$'] },
  },
  {
    name: 'web-imports-model-types-only-but-pure-rules',
    severity: 'error',
    from: { path: '^web/' },
    to: { path: '^src/model/', pathNot: '^src/model/(access|deploy-state|instance-state|instance-health)\\.ts$', dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'pure-core-has-no-io',
    severity: 'error',
    from: { path: '^src/(model|reconcile)/' },
    to: { dependencyTypes: ['core'] },
  },
];

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.tsx?$|driver-conformance\\.ts$|^web/vite\\.config\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.tsx', '.js'] },
  },
};
