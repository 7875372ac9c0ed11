import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitShellWords } from './shell-words.js';

describe('splitShellWords', () => {
  const cases: [string, string, string[]][] = [
    ['splits on runs of blanks', '  node   server.js\t--port 80 ', ['node', 'server.js', '--port', '80']],
    ['keeps single-quoted text literally', `node -e 'console.log("a b")'`, ['node', '-e', 'console.log("a b")']],
    ['keeps backslashes inside single quotes', `echo 'a\\nb'`, ['echo', 'a\\nb']],
    ['joins quoted and unquoted parts of one word', `--name="my app"x'y'`, ['--name=my appxy']],
    ['unescapes \\" \\\\ \\$ and \\` inside double quotes', `echo "a \\"b\\" \\\\ \\$HOME \\\`"`, ['echo', 'a "b" \\ $HOME `']],
    ['keeps other backslashes inside double quotes', `echo "a\\nb"`, ['echo', 'a\\nb']],
    ['escapes a blank outside quotes', 'cat my\\ file', ['cat', 'my file']],
    ['makes an empty word from empty quotes', `printf '' ""`, ['printf', '', '']],
    ['joins lines at a backslash-newline', 'sleep \\\n10', ['sleep', '10']],
    ['expands nothing', 'echo $HOME *.js # not a comment', ['echo', '$HOME', '*.js', '#', 'not', 'a', 'comment']],
    ['gives no words for a blank line', '   ', []],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.deepEqual(splitShellWords(input), expected));
  }

  it('refuses an unterminated single quote', () => {
    assert.throws(() => splitShellWords(`echo 'oops`), /unterminated single quote at position 6/);
  });

  it('refuses an unterminated double quote', () => {
    assert.throws(() => splitShellWords('echo "oops'), /unterminated double quote/);
  });

  it('refuses a trailing backslash', () => {
    assert.throws(() => splitShellWords('echo \\'), /backslash/);
  });
});
