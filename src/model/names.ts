/** DNS-1035 label (Kubernetes Service names): lower case, starts with a letter, ends alphanumeric, ≤ 63. */
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1035_MAX = 63;
export const DNS1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/** IANA_SVC_NAME (Kubernetes port names): ≤ 15, lower case alphanumerics and '-', at least one letter, no '--'. */
export const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** C identifier for environment variable names (Kubernetes allows more; this is the portable POSIX set). */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Label keys: optional DNS prefix and '/', then a name of ≤ 63 [A-Za-z0-9-_.] starting/ending alphanumeric. */
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** The grid every request lands in when none is given (Kubernetes' `default` namespace). */
export const DEFAULT_GRID = 'default';

/** Signal names a container may ask to be stopped with (POSIX set; Node's os.constants.signals agrees). */
export const STOP_SIGNALS = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP',
  'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH',
  'SIGIO', 'SIGPWR', 'SIGSYS',
] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** A dotted-quad IPv4 address. */
export const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** RFC 1123 label, lower case, ≤ 63 (Kubernetes' rule for a pod's hostname). */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MAX = 63;

/** RFC 1123 subdomain, lower case (Kubernetes' externalName rule). */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
