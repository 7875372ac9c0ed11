// The module hooks of record-modules.mjs (they run on the loader's thread).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (process.env.BERTH_RECORD_MODULES) appendFileSync(process.env.BERTH_RECORD_MODULES, `${resolved.url}\n`);
  return resolved;
}
