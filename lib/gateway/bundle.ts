import * as path from 'path';

/**
 * How the gateway Lambda is bundled: the stack and `npm run bench:gateway` build the same artifact.
 * The AWS SDK is bundled rather than taken from the runtime, so its version is the one package-lock.json pins.
 */
export const GATEWAY_BUNDLE = {
  entry: path.join(__dirname, '..', '..', 'runtime', 'gateway', 'lambda.ts'),
  target: 'node20',
  minify: true,
  /** Readable stack traces in the logs (NODE_OPTIONS=--enable-source-maps). */
  sourceMap: true,
  format: 'cjs' as const,
  /** The ES module builds of the AWS SDK and Smithy: esbuild drops what the gateway never calls (about 160 KB of the CommonJS builds). */
  mainFields: ['module', 'main'],
  external: [] as string[],
};
