import { pino } from 'pino';
import type { Logger } from '../lib/index.js';

/** Backs the Logger port with pino: JSON lines to `destination` (a file path) or stderr. */
export function createLogger(options: { level?: string; destination?: string }): Logger {
  const stream = options.destination ? pino.destination({ dest: options.destination, mkdir: true, sync: false }) : pino.destination(2);
  return pino({ level: options.level ?? 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stream) as unknown as Logger;
}
