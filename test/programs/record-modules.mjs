// `node --import ./test/programs/record-modules.mjs …`: appends every module URL the program resolves
// to the file $BERTH_RECORD_MODULES, one per line (test/e2e/cli-startup.test.ts).
import { register } from 'node:module';

register('./record-modules-hooks.mjs', import.meta.url);
