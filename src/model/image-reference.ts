/*
 * Docker's image reference grammar (github.com/distribution/reference, regexp.go), so a spec names an
 * image the engine can pull, checked before anything is stored:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [domain "/"] path-component ["/" path-component]*      (≤ 255 characters)
 *   domain     := host [":" port]                                         (a dot, a port, or "localhost")
 *   path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*                 (lower case)
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := algorithm ":" hex                                       (sha256: 64 lower-case hex digits)
 */

/** An image reference in its parts. */
export interface ImageReference {
  /** Everything before the tag and digest: `registry.example.org:5000/team/app`, `nginx`. */
  readonly name: string;
  /** The registry host (and port) when the name starts with one: `127.0.0.1:5000`, `localhost`. */
  readonly domain?: string;
  /** The repository path inside the registry: `team/app`, `nginx`. */
  readonly path: string;
  /** `1.27`; undefined when none is given (the engine's default is `latest`). */
  readonly tag?: string;
  /** `sha256:…`. */
  readonly digest?: string;
}

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*))(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Docker's NameTotalLengthMax. */
const NAME_MAX = 255;

const HINT = 'an image reference is [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST] with a lower-case repository, e.g. nginx:1.27, 127.0.0.1:5000/team/app:v2 or busybox@sha256:<64 hex digits>';

/**
 * Parses an image reference (Docker's grammar, above). The first path component is a registry only
 * when it holds a `.` or a `:`, is `localhost`, or has upper-case letters (Docker's splitDockerDomain).
 * @throws Error saying what is wrong and how a reference looks
 */
export function parseImageReference(ref: string): ImageReference {
  const m = REFERENCE.exec(ref);
  if (!m) {
    const lowered = ref.replace(/^([^/]*[.:][^/]*\/|localhost\/)?([^:@]*)/, (_all, domain: string | undefined, rest: string) => `${domain ?? ''}${rest.toLowerCase()}`);
    if (lowered !== ref && REFERENCE.test(lowered)) throw new Error(`repository name must be lowercase (${lowered}); ${HINT}`);
    if (/\s/.test(ref)) throw new Error(`must not contain white space; ${HINT}`);
    throw new Error(`invalid reference format; ${HINT}`);
  }
  const [, name = '', domainGiven, pathGiven = '', tag, digest] = m;
  let domain = domainGiven;
  let path = pathGiven;
  if (domain !== undefined && !(/[.:]/.test(domain) || domain === 'localhost' || domain !== domain.toLowerCase())) {
    // `team/app`: the first component is a path component, not a registry.
    path = `${domain}/${path}`;
    domain = undefined;
  }
  if (domain === undefined && !/^[a-z0-9]/.test(path)) throw new Error(`invalid reference format; ${HINT}`);
  if (name.length > NAME_MAX) throw new Error(`repository name must not be more than ${NAME_MAX} characters`);
  if (digest !== undefined) {
    const [algorithm, hex = ''] = digest.split(':');
    if (algorithm === 'sha256' && !/^[a-f0-9]{64}$/.test(hex)) throw new Error('a sha256 digest is 64 lower-case hexadecimal digits');
    if (algorithm === 'sha512' && !/^[a-f0-9]{128}$/.test(hex)) throw new Error('a sha512 digest is 128 lower-case hexadecimal digits');
  }
  return { name, ...(domain !== undefined ? { domain } : {}), path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** What is wrong with an image reference, or undefined when it is one (see parseImageReference). */
export function imageReferenceProblem(ref: string): string | undefined {
  try {
    parseImageReference(ref);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
