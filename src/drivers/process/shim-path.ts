import { nativeBinaryPath } from '../../lib/index.js';

/** Where `npm run build` puts the shim: `build/berth-shim` under the package root (lib/native-binary.ts). */
export function defaultShimPath(): string {
  return nativeBinaryPath('berth-shim');
}
