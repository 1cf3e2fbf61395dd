#!/usr/bin/env node
// Starts a TypeScript CLI of the kit in well under a second: esbuild bundles the project's own
// files (npm packages stay external) into dist/ and node runs the bundle. Type checking is
// `npm test`'s job (tsc --noEmit); type-checking on every start cost 10-40 s.
// Usage: node scripts/run-ts.cjs scripts/<cli>.ts [args...]
'use strict';
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const entry = path.resolve(process.argv[2] || '');
if (!process.argv[2] || !entry.endsWith('.ts') || !fs.existsSync(entry)) {
  console.error('usage: node scripts/run-ts.cjs <file.ts> [args...]');
  process.exit(2);
}
const outfile = path.join(root, 'dist', path.relative(root, entry).replace(/\.ts$/, '.js'));

// Bundled code would see the bundle's directory as __dirname; the kit's files resolve
// runtime/, lib/ and assets relative to their own place in the source tree.
const keepSourceDirname = {
  name: 'source-dirname',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      return {
        contents: source.replace(/\b__dirname\b/g, JSON.stringify(path.dirname(args.path))).replace(/\b__filename\b/g, JSON.stringify(args.path)),
        loader: 'ts',
      };
    });
  },
};

const built = esbuild.build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'inline',
  write: false,
  logLevel: 'error',
  plugins: [keepSourceDirname],
});
built.then(
  async (output) => {
    // Written then renamed: two CLIs started at once never run a half-written bundle.
    fs.mkdirSync(path.dirname(outfile), { recursive: true });
    const partial = `${outfile}.${process.pid}.tmp`;
    fs.writeFileSync(partial, output.outputFiles[0].contents);
    fs.renameSync(partial, outfile);
    // The CLI may exit at any moment: end esbuild's helper process first, so none is left behind.
    await esbuild.stop();
    process.argv.splice(1, 2, outfile);
    process.setSourceMapsEnabled?.(true);
    require(outfile);
  },
  (e) => {
    console.error(e.message);
    process.exit(1);
  },
);
