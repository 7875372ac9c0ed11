import { CommanderError } from 'commander';
import { BerthApiError } from '../client/index.js';
import { CliError, QuietExit } from './cli-error.js';

/**
 * Prints an error the way every berth command does — `error: <message>` on stderr, and for an invalid
 * spec one cause per line — and returns the exit code: 0 for help, 2 for usage errors, 1 otherwise.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream): number {
  if (error instanceof CommanderError) {
    // commander has printed its own message (or the help) already.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : 2;
    return 2;
  }
  if (error instanceof QuietExit) return error.exitCode;
  for (const line of errorLines(error)) stderr.write(`${line}\n`);
  return error instanceof CliError ? error.exitCode : 1;
}

/** The lines `reportError` prints: `error: …` then indented details. */
export function errorLines(error: unknown): string[] {
  if (error instanceof CliError) return [`error: ${error.message}`, ...error.lines.map((l) => `  ${l}`)];
  if (error instanceof BerthApiError) {
    const causes = error.causes;
    if (causes.length > 0) {
      // A spec's causes start with their field (`spec.name: …`); a request's (REQUEST_INVALID) get it in front.
      const lines = causes.map((c) => (c.field === '' || c.message.startsWith(`${c.field}:`) ? c.message : `${c.field}: ${c.message}`));
      const cut = error.message.indexOf(' is invalid');
      if (cut < 0 && lines.length === 1) return [`error: ${lines[0] ?? ''}`];
      const head = cut >= 0 ? `${error.message.slice(0, cut)} is invalid:` : 'invalid request:';
      return [`error: ${head}`, ...lines.map((l) => `  ${l}`)];
    }
    if (error.code === 'SERVER_UNREACHABLE' && /certificate|self[- ]signed|TLS_FINGERPRINT/i.test(error.message)) {
      return [`error: ${error.message}`, "  the server's TLS certificate is not trusted: set BERTH_TLS_FINGERPRINT to the fingerprint `berth server` printed, or pass --tls-ca FILE"];
    }
    return [`error: ${error.message}`];
  }
  if (error instanceof Error) return [`error: ${error.message}`];
  return [`error: ${String(error)}`];
}
