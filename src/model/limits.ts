/*
 * The limits on what one request may ask berth to store and run: the one table that validation
 * (parseServiceSpec, the API's request parser) and the controller's "can this stored spec run" check
 * read, and that docs/spec.md ("Limits") lists. Every limit is refused with HTTP 400 naming the field
 * and the limit, and nothing is stored.
 *
 * Why limits at all: a single request once asked for 99,999,999 replicas and ran the server out of
 * memory on every restart; others stored 2,000 containers, 10,000 labels or 500 MB of environment.
 * The values are generous for real services and small enough that the largest spec stays far below the
 * 1 MiB body limit's worth of work for the controller and the agent.
 */

/** Replicas per service when the operator sets nothing (`berth server --max-replicas`, BERTH_MAX_REPLICAS). */
export const DEFAULT_MAX_REPLICAS = 1000;

/** The highest `--max-replicas` an operator may set (the default instance range holds 65,534 addresses). */
export const MAX_REPLICAS_CEILING = 100_000;

/**
 * Fixed limits (the replica limit is the server's, see SpecLimits). Counts are items, lengths are
 * UTF-16 characters (what JavaScript's `length` counts), sizes are bytes of UTF-8.
 */
export const LIMITS = {
  /** Request body: bytes (fastify's bodyLimit). */
  bodyBytes: 1024 * 1024,
  /** Request body: nesting of objects and arrays (the deepest real spec needs 8). */
  bodyDepth: 32,
  /** Service and container names: DNS-1035 labels (Kubernetes). */
  nameLength: 63,
  /** Port names: IANA service names (Kubernetes). */
  portNameLength: 15,
  /** Containers per service (= per instance: they share its address). */
  containers: 32,
  /** Ports per container, and ports of a service's network face (Kubernetes' EndpointSlice allows 100). */
  ports: 100,
  /** Labels per service, per container, entries of a selector, and annotations per service. */
  labels: 64,
  /** One annotation's value: characters (free text: an alias, a description, a URL). */
  annotationLength: 4096,
  /** Mounts per container (bind, volume and tmpfs together). */
  mounts: 32,
  /** Environment variables per container. */
  envEntries: 256,
  /** Length of one environment variable's name. */
  envNameLength: 256,
  /** Length of one environment variable's value: characters. */
  envValueLength: 32 * 1024,
  /** Size of a container's whole environment, names and values (bytes); Linux allows 2 MiB of argv + env. */
  envTotalBytes: 256 * 1024,
  /** Items of `command` + `args`, of an exec probe's command, of a healthcheck's test. */
  argv: 256,
  /** One item of a command, of args, of a probe's command: characters (Linux's MAX_ARG_STRLEN is 128 KiB). */
  argLength: 32 * 1024,
  /** image, user, clusterIP, a probe's path, header names and values: characters. */
  textLength: 1024,
  /** A label key: a DNS subdomain prefix (≤ 253), '/', and a name (≤ 63), as Kubernetes. */
  labelKeyLength: 317,
  /** workingDir, a mount's source and target: characters (Linux's PATH_MAX). */
  pathLength: 4096,
  /** HTTP headers of one httpGet probe. */
  httpHeaders: 32,
  /** externalIPs of a service. */
  externalIPs: 16,
  /** Hand-set endpoints of a service. */
  endpoints: 1000,
  /** Placement constraints, spread preferences and platforms of a service, each. */
  placementRules: 32,
  /** Every duration (stopGracePeriod, restart delay and window, update delay and monitor, drainTimeout, probe seconds): seconds. */
  durationSeconds: 86_400,
} as const;

/** The limits that depend on the server's configuration. */
export interface SpecLimits {
  /** Replicas per service (`berth server --max-replicas`; default DEFAULT_MAX_REPLICAS). */
  readonly maxReplicas: number;
}

export const DEFAULT_SPEC_LIMITS: SpecLimits = { maxReplicas: DEFAULT_MAX_REPLICAS };

/** What an operator reads to change the replica limit; repeated in every replica-limit message. */
export const MAX_REPLICAS_HINT = 'the server\'s limit of replicas per service, set by its operator with `berth server --max-replicas N` or BERTH_MAX_REPLICAS';

/** Bytes of `s` in UTF-8, without allocating (model/ runs in the browser too). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4; // a surrogate pair: one code point of 4 bytes
      i++;
    } else n += 3;
  }
  return n;
}
