import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/*
 * The process driver's own records of what it started, kept in its exit directory beside the exit
 * files, so that a restarted berth finds every shim the data directory ever launched — even one whose
 * start berth never heard back from (docs/drivers.md, "Crash safety"). Per container, `<base>` being
 * `<instanceId>.<container>` made file-safe:
 *
 *   <base>.start.json  the intent, written by berth before it asks the launcher for the shim
 *   <base>.shim        the shim's state file: its report line, written by the shim (tmp, rename) before
 *                      it reports the start, once the container's execvp succeeded
 *   <base>.exit.json   the exit file, written by the shim when the container has ended
 */

/** What berth writes before it asks for a shim: enough to rebuild the handle from the state file. */
export interface StartIntent {
  readonly instanceId: string;
  readonly containerName: string;
  readonly logPath: string;
  readonly exitFile: string;
  readonly stateFile: string;
  /** ISO 8601 time the start was asked for. */
  readonly at: string;
}

/** The shim's report: `<pid> <startTicks> <shimPid> <shimStartTicks>`. */
export interface ShimState {
  readonly pid: number;
  readonly startTicks: number;
  readonly shimPid: number;
  readonly shimStartTicks: number;
}

const EXIT_SUFFIX = '.exit.json';
const INTENT_SUFFIX = '.start.json';
const STATE_SUFFIX = '.shim';

/** The three record files of one container in `exitDir`; `base` is already file-safe. */
export function recordPaths(exitDir: string, base: string): { readonly exitFile: string; readonly intentFile: string; readonly stateFile: string } {
  return {
    exitFile: join(exitDir, `${base}${EXIT_SUFFIX}`),
    intentFile: join(exitDir, `${base}${INTENT_SUFFIX}`),
    stateFile: join(exitDir, `${base}${STATE_SUFFIX}`),
  };
}

/** The intent and state files that go with an exit file named `<base>.exit.json`; undefined for another name. */
export function recordPathsOfExitFile(exitFile: string): { readonly intentFile: string; readonly stateFile: string } | undefined {
  const name = basename(exitFile);
  if (!name.endsWith(EXIT_SUFFIX)) return undefined;
  const paths = recordPaths(dirname(exitFile), name.slice(0, -EXIT_SUFFIX.length));
  return { intentFile: paths.intentFile, stateFile: paths.stateFile };
}

/** Writes the intent file (no rename: a torn one fails to parse, and then no report line can match it either). */
export async function writeIntent(intentFile: string, intent: StartIntent): Promise<void> {
  await writeFile(intentFile, JSON.stringify(intent), { mode: 0o600 });
}

/** Parses a shim report line; undefined for anything else (an `error: …` line, a torn file). */
export function parseShimState(line: string): ShimState | undefined {
  const m = /^(\d+) (\d+) (\d+) (\d+)\n?$/.exec(line);
  if (!m) return undefined;
  return { pid: Number(m[1]), startTicks: Number(m[2]), shimPid: Number(m[3]), shimStartTicks: Number(m[4]) };
}

/** One start the directory records: the intent, and the shim's state once the container ran. */
export interface StartRecord {
  readonly intentFile: string;
  readonly intent: StartIntent;
  readonly state: ShimState | undefined;
}

/** Every intent in `exitDir` with its shim's state file, if any. Unreadable or torn intents are skipped. */
export async function readStartRecords(exitDir: string): Promise<StartRecord[]> {
  let names: string[];
  try {
    names = await readdir(exitDir);
  } catch {
    return [];
  }
  const records: StartRecord[] = [];
  for (const name of names) {
    if (!name.endsWith(INTENT_SUFFIX)) continue;
    const intentFile = join(exitDir, name);
    const intent = await readJson<StartIntent>(intentFile);
    if (!intent || typeof intent.instanceId !== 'string' || typeof intent.stateFile !== 'string') continue;
    const state = await readFile(intent.stateFile, 'utf8').then(parseShimState, () => undefined);
    records.push({ intentFile, intent, state });
  }
  return records;
}

/** Removes the intent and state files of a container (its exit file is the caller's). */
export async function removeRecords(paths: { readonly intentFile: string; readonly stateFile: string }): Promise<void> {
  await Promise.all([rm(paths.stateFile, { force: true }), rm(`${paths.stateFile}.tmp`, { force: true }), rm(paths.intentFile, { force: true })]);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
