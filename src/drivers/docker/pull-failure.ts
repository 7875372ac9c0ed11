import { ImagePullFailedError, type ImagePullFailureReason } from '../../model/index.js';

/**
 * The registry host of an image reference, as the engine reads it: the first path component when it
 * has a dot or a port or is `localhost`, else Docker Hub (`docker.io`).
 */
export function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/**
 * The engine's own words of a failed pull: the JSON `message` of an HTTP error (dockerode wraps it as
 * "(HTTP code 404) unexpected - …"), or the `error` of an in-stream progress message; repeated parts
 * ("manifest unknown: manifest unknown") said once.
 */
export function engineWords(message: string): string {
  const bare = message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  const parts = bare.split(': ');
  return parts.filter((p, i) => i === 0 || p !== parts[i - 1]).join(': ');
}

const NOT_FOUND = /manifest unknown|not found|repository does not exist|name unknown|no such image/i;
const UNAUTHORIZED = /unauthorized|authentication required|no basic auth credentials|denied/i;
const UNREACHABLE =
  /connection refused|no such host|i\/o timeout|timeout|timed out|network is unreachable|no route to host|connection reset|server misbehaving|context deadline exceeded|\bEOF\b/i;

/**
 * Classifies a pull failure from the engine's HTTP status (when the engine answered with one) and its
 * message. Docker Hub answers "pull access denied …, repository does not exist or may require 'docker
 * login'" for both an unknown repository and a private one: that reads as `not-found` (the message
 * then says both).
 */
export function classifyPullFailure(statusCode: number | undefined, message: string): ImagePullFailureReason {
  if (statusCode === 404 || NOT_FOUND.test(message)) return 'not-found';
  if (statusCode === 401 || statusCode === 403 || UNAUTHORIZED.test(message)) return 'unauthorized';
  if (UNREACHABLE.test(message)) return 'unreachable';
  return 'other';
}

/** The last words of an engine message, what the registry itself answered ("manifest unknown"). */
function registryAnswer(words: string): string {
  const parts = words.split(': ');
  return parts[parts.length - 1] ?? words;
}

/**
 * The error for a failed pull of `ref`, with a message a user understands (the image, the reason, the
 * registry's or engine's own words, and what to check).
 */
export function pullFailedError(ref: string, reason: ImagePullFailureReason, engineMessage: string): ImagePullFailedError {
  const registry = registryOf(ref);
  const words = engineWords(engineMessage);
  let message: string;
  switch (reason) {
    case 'not-found':
      message = /may require 'docker login'/.test(words)
        ? `image ${ref} not found, or it needs credentials: the registry answered '${words}'; check the image name and tag`
        : `image ${ref} not found: the registry answered '${registryAnswer(words)}'; check the image name and tag`;
      break;
    case 'unreachable':
      message = `image ${ref} cannot be pulled: registry ${registry} is unreachable (${words}); check that the registry runs and that this node can reach it`;
      break;
    case 'unauthorized':
      message = `image ${ref} cannot be pulled: registry ${registry} refused access ('${registryAnswer(words)}'); log the node's engine in to it (docker login ${registry})`;
      break;
    case 'other':
      message = `image ${ref} cannot be pulled: ${words}`;
      break;
  }
  return new ImagePullFailedError(ref, reason, message, { registry, engineMessage: words });
}
