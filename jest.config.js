/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is done once, before jest, by `npm test` (`npm run build` for the sources and
  // `npm run typecheck:tests`: tsc --noEmit -p tsconfig.jest.json for the tests); jest only
  // transpiles, which keeps the 1 MB generated Istio bindings from being type-checked per worker.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json', diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 60000,
  maxWorkers: 2,
  // After jest's summary, a list of the server-backed tests skipped for a missing binary.
  reporters: ['default', '<rootDir>/test/support/skip-reporter.js'],
};
