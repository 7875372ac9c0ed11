import { BerthApiError } from '../client/index.js';
import { CliError } from './cli-error.js';
import type { Manifest, ManifestService } from './manifest.js';

/** An invalid spec's causes with the file:line:col of each field; other errors named after the service. */
export function withLocations(error: unknown, manifest: Manifest, entry: ManifestService): unknown {
  const what = `service/${entry.name} (${manifest.source}, document ${entry.index})`;
  if (error instanceof BerthApiError && error.causes.length > 0) {
    return new CliError(`${what} is invalid:`, {
      // SPEC_INVALID causes start with their field; other codes' causes get it in front.
      lines: error.causes.map((c) => `${entry.locate(c.field)}: ${c.field === '' || c.message.startsWith(`${c.field}:`) ? '' : `${c.field}: `}${c.message}`),
      cause: error,
    });
  }
  if (error instanceof Error) return new CliError(`${what}: ${error.message}`, { cause: error });
  return error;
}
