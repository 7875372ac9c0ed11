/**
 * ANSI colours for one output stream, or none: a palette is plain when the stream is not a terminal or
 * NO_COLOR is set to anything non-empty (https://no-color.org), so piped output never holds escapes.
 */
export interface Palette {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  /** A stable colour per index (slot, service) for log prefixes: cycles through six colours. */
  pick(index: number, text: string): string;
}

const CYCLE = [36, 33, 32, 35, 34, 31] as const;

export function createPalette(enabled: boolean): Palette {
  const wrap = (open: number, close: number) => (text: string): string => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    blue: wrap(34, 39),
    pick: (index, text) => wrap(CYCLE[Math.abs(index) % CYCLE.length] ?? 36, 39)(text),
  };
}

/** True when colour may be used on `stream` given the environment. */
export function colourAllowed(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv): boolean {
  return isTty(stream) && !env['NO_COLOR'];
}

export function isTty(stream: NodeJS.WritableStream | NodeJS.ReadableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}
