/**
 * Splits a command line into words as a POSIX shell does, without expanding anything: `--cmd "…"`
 * becomes a container's argv (exec form), so `node -e 'console.log(1)'` runs with no shell in between.
 *
 * Rules (POSIX sh "Quoting"): blanks separate words; '…' keeps everything literally; "…" keeps everything
 * except that \ escapes $ ` " \ and newline; a \ outside quotes escapes the next character; \ before a
 * newline joins lines; '' and "" make an empty word. `$VAR`, globs and `#` stay as they are.
 * @throws ShellWordsError for an unterminated quote or a trailing \.
 */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated single quote at position ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i = readDoubleQuoted(line, i + 1, (text) => (word += text));
      inWord = true;
    } else if (c === '\\') {
      const next = line[i + 1];
      if (next === undefined) throw new ShellWordsError('ends with a backslash that escapes nothing');
      if (next !== '\n') {
        word += next;
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Reads a "…" body starting after the opening quote; returns the index after the closing quote. */
function readDoubleQuoted(line: string, start: number, append: (text: string) => void): number {
  let i = start;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === '"') return i + 1;
    if (c === '\\') {
      const next = line[i + 1];
      if (next === '$' || next === '`' || next === '"' || next === '\\') {
        append(next);
        i += 2;
        continue;
      }
      if (next === '\n') {
        i += 2;
        continue;
      }
    }
    append(c);
    i++;
  }
  throw new ShellWordsError(`unterminated double quote at position ${start}`);
}

export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellWordsError';
  }
}
