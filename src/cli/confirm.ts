import { createInterface } from 'node:readline/promises';

/**
 * Asks a yes/no question on a terminal; true only for y or yes (the default is no).
 * The caller checks that stdin is a terminal first: a pipe never confirms anything.
 */
export async function confirm(question: string, io: { readonly stdin: NodeJS.ReadableStream; readonly stderr: NodeJS.WritableStream }): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(`${question} [y/N] `);
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
