/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': 'ts-jest', '/node_modules/.+\\.js$': '<rootDir>/test/helpers/esm-to-cjs.cjs' },
  // ES-module-only packages (the agents' framework) are rewritten to CommonJS; every other package loads as published.
  transformIgnorePatterns: ['/node_modules/(?!(@strands-agents/sdk|uuid)/)'],
  snapshotSerializers: ['<rootDir>/test/helpers/asset-hash-serializer.ts'],
  // Synthesizing CDK apps with every nag pack is CPU-bound; CI has 2 cores.
  maxWorkers: 2,
  testTimeout: 120000,
};
