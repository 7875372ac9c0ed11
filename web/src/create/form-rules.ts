/*
 * The Create form's field rules (docs/console.md, "Create", "Rules"): pure functions that return the
 * message to show under a field, or undefined when the value is fine. They restate the server's rules
 * (src/model/names.ts, service-spec.ts, limits.ts) for feedback while typing; the server still
 * validates every request, and form-rules.test.ts checks that each rule agrees with it.
 */

/** A rule: the message for a bad value, undefined for a good one. */
export type Rule = (value: string) => string | undefined;

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const INTEGER = /^\d+$/;

/** Kubernetes' DefaultClientIPServiceAffinitySeconds, as the server stores it: 3 h. */
export const DEFAULT_STICKY_TIMEOUT_SECONDS = 10_800;
/** The server's default replica limit (`--max-replicas`, LIMITS in src/model/limits.ts). */
export const DEFAULT_MAX_REPLICAS = 1000;

/**
 * A service name: a DNS-1035 label of at most 63 characters (Kubernetes' rule for Service names):
 * lower-case letters, digits and '-', starting with a letter, ending with a letter or digit.
 */
export const nameRule: Rule = (v) => {
  if (v === '') return 'Required: the service name.';
  if (v.length > 63) return `At most 63 characters (this is ${v.length}).`;
  if (/[A-Z]/.test(v)) return 'Lower-case letters only.';
  if (!/^[a-z]/.test(v)) return 'Must start with a lower-case letter.';
  if (v.endsWith('-')) return 'Must end with a letter or a digit.';
  if (!DNS1035.test(v)) return "Only lower-case letters, digits and '-'.";
  return undefined;
};

/** A container name: the same rule, but optional (one container takes the service's name). */
export const containerNameRule: Rule = (v) => (v === '' ? undefined : nameRule(v));

/** KubeSphere's version field: lower-case letters and digits, 1 to 16 (stored as the `version` label). */
export const versionRule: Rule = (v) => {
  if (v === '') return 'Required: a version such as v1.';
  if (v.length > 16) return `At most 16 characters (this is ${v.length}).`;
  if (!/^[a-z0-9]+$/.test(v)) return 'Only lower-case letters and digits.';
  return undefined;
};

/** An integer in [min, max], written in decimal digits. */
export function integerRule(min: number, max: number, what = 'a number'): Rule {
  return (v) => {
    const t = v.trim();
    if (t === '') return `Required: ${what} from ${min} to ${max}.`;
    if (!INTEGER.test(t) || Number(t) < min || Number(t) > max) return `Must be ${what} from ${min} to ${max}.`;
    return undefined;
  };
}

/** A TCP/UDP port: 1-65535. */
export const portRule: Rule = integerRule(1, 65535, 'a port');
/**
 * A node port (NodePort / LoadBalancer): empty (allocated by the server) or a port, 1-65535. Which
 * ports are node ports is the server's range (30000-32767 unless BERTH_NODE_PORT_RANGE, or a range
 * moved aside for another berth, says otherwise): the server refuses one outside it (422
 * ADDRESS_OUT_OF_RANGE naming the range), and the page shows that on the field.
 */
export const nodePortRule: Rule = (v) => (v.trim() === '' ? undefined : integerRule(1, 65535, 'a node port')(v));
/** Sticky-session timeout in seconds: 1 to 86400 (Kubernetes' range). */
export const timeoutRule: Rule = integerRule(1, 86_400, 'a number of seconds');
/** Replicas: 0 to the server's limit (1000 unless the server was started with `--max-replicas`). */
export const replicasRule: Rule = integerRule(0, DEFAULT_MAX_REPLICAS, 'a number of replicas');
/** Update parallelism: 0 (all at once) to 1000. */
export const parallelismRule: Rule = integerRule(0, DEFAULT_MAX_REPLICAS, 'a number');
/** Probe seconds (delay, period): 0 to 86400. */
export const secondsRule: Rule = integerRule(0, 86_400, 'a number of seconds');

/** A port name (IANA service name, Kubernetes): ≤ 15 lower-case letters, digits and inner '-'. Optional here. */
export const portNameRule: Rule = (v) => {
  if (v === '') return undefined;
  if (v.length > 15) return `At most 15 characters (this is ${v.length}).`;
  if (!IANA_SVC_NAME.test(v)) return "Lower-case letters, digits and '-', starting and ending with a letter or digit.";
  return undefined;
};

/** An environment variable name (the portable POSIX set the server takes), ≤ 256. */
export const envKeyRule: Rule = (v) => {
  if (v === '') return 'Required: the variable name.';
  if (v.length > 256) return 'At most 256 characters.';
  if (!ENV_NAME.test(v)) return "Letters, digits, '_', '-' or '.', not starting with a digit.";
  return undefined;
};

/** An ExternalName: a lower-case DNS name (RFC 1123 subdomain) of at most 253 characters. */
export const externalNameRule: Rule = (v) => {
  if (v === '') return 'Required: the DNS name this service stands for, e.g. db.example.org.';
  if (v.length > 253) return 'At most 253 characters.';
  if (!DNS1123_SUBDOMAIN.test(v)) return 'Must be a lower-case DNS name, e.g. db.example.org.';
  return undefined;
};

/** An absolute path that is not `/` (working directory, mount target). */
export const absolutePathRule: Rule = (v) => {
  if (!v.startsWith('/')) return 'Must be an absolute path (starting with /).';
  if (v.length > 4096) return 'At most 4096 characters.';
  return undefined;
};

/** A volume's mount target: an absolute path other than `/`. */
export const mountTargetRule: Rule = (v) => (v.replace(/\/+$/, '') === '' && v !== '' ? 'Cannot be / itself.' : absolutePathRule(v));

/** An image reference: required, no spaces (the server checks Docker's full grammar). */
export const imageRule: Rule = (v) => {
  if (v.trim() === '') return 'Required: an image such as nginx:1.27, or choose Command.';
  if (/\s/.test(v.trim())) return 'An image reference has no spaces.';
  if (/[A-Z]/.test(v.split(/[:@]/)[0] ?? '')) return 'The repository name must be lower case.';
  return undefined;
};

/** A command line (split into arguments by splitCommand). */
export const commandRule: Rule = (v) => {
  const argv = splitCommand(v);
  if (argv === undefined) return 'A quote is not closed.';
  if (argv.length === 0) return 'Required: the program to run, e.g. sleep 1000.';
  return undefined;
};

/** Label keys and values as Kubernetes takes them (`tier=web`, `example.com/team=shop`). */
export const labelKeyRule: Rule = (v) => (v.length <= 317 && LABEL_KEY.test(v) ? undefined : `Label key ${JSON.stringify(v)}: letters, digits, '-', '_', '.', an optional DNS prefix and '/'.`);
export const labelValueRule: Rule = (v) => (LABEL_VALUE.test(v) ? undefined : `Label value ${JSON.stringify(v)}: at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit.`);

/**
 * Splits a command line into arguments as a shell would for plain words: whitespace separates, single
 * and double quotes group (no expansion, no escapes but `\"` inside double quotes).
 * @returns the arguments, or undefined when a quote is left open
 */
export function splitCommand(line: string): string[] | undefined {
  const out: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (quote === '"' && c === '\\' && line[i + 1] === '"') current += line[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) out.push(current);
  return out;
}

/**
 * Reads `tier=web, app=shop` into labels.
 * @returns the labels and the first problem (a term without `=`, a bad key or value)
 */
export function parseLabels(text: string): { readonly labels: Record<string, string>; readonly error?: string } {
  const labels: Record<string, string> = {};
  for (const term of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const eq = term.indexOf('=');
    if (eq <= 0) return { labels, error: `${JSON.stringify(term)} is not key=value.` };
    const key = term.slice(0, eq).trim();
    const value = term.slice(eq + 1).trim();
    const error = labelKeyRule(key) ?? labelValueRule(value);
    if (error) return { labels, error };
    labels[key] = value;
  }
  return { labels };
}
