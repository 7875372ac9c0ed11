/**
 * An error the CLI reports as `error: <message>` and turns into an exit code: 1 for a failure, 2 for a
 * usage error (a bad flag value, a missing argument). Extra `lines` follow the message, indented.
 */
export class CliError extends Error {
  readonly exitCode: number;
  readonly lines: readonly string[];

  constructor(message: string, options: { exitCode?: number; lines?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? 1;
    this.lines = options.lines ?? [];
  }
}

/** A command line that cannot work as given (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = 'UsageError';
  }
}

/**
 * Ends the command with an exit code and prints nothing more: the command said what it had to (e.g.
 * `berth diff` exits 1 when it printed differences, as `diff` and `kubectl diff` do).
 */
export class QuietExit extends CliError {
  constructor(exitCode: number) {
    super('', { exitCode });
    this.name = 'QuietExit';
  }
}
