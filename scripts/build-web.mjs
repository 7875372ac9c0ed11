#!/usr/bin/env node
// Builds the web console (web/ → dist/web, docs/console.md) with Vite, then writes a brotli and a gzip
// twin of every script, style and page, which the server sends to browsers that accept them
// (@fastify/static's preCompressed): compressed once at build, never per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = new URL('../web/', import.meta.url);
await build({ configFile: new URL('vite.config.ts', root).pathname, logLevel: process.env.BERTH_BUILD_QUIET ? 'warn' : 'info' });

const out = new URL('../dist/web/', import.meta.url).pathname;
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
for (const file of walk(out).filter((f) => /\.(js|css|html|svg|json)$/.test(f))) {
  const data = readFileSync(file);
  writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
  writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
}
