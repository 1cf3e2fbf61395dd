// Jest runs the kit's tests as CommonJS; @strands-agents/sdk (and its uuid) ship only ES modules,
// which Jest on Node < 24.9 cannot require. esbuild rewrites those files to CommonJS on load
// (node itself loads them natively: require(esm) in Node >= 20.19, or a bundle in the image).
'use strict';
const crypto = require('crypto');
const esbuild = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = esbuild.transformSync(source, {
      loader: 'js',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
      // The one import.meta use (OTel's createRequire) gets this file's URL, as in ESM.
      define: { 'import.meta.url': '__esmImportMetaUrl' },
      banner: 'var __esmImportMetaUrl = require("url").pathToFileURL(__filename).href;',
    });
    return { code, map };
  },
  getCacheKey(source, filename) {
    return crypto.createHash('sha256').update('esm-to-cjs-1\0').update(filename).update('\0').update(source).digest('hex');
  },
};
