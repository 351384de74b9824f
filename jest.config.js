/** @type {import('jest').Config} */
const moduleNameMapper = {
  '^@app/testing(|/.*)$': '<rootDir>/test/support$1',
  '^@app/([a-z]+)(|/.*)$': '<rootDir>/libs/$1/src$2',
};
const transform = {
  // Type errors are caught by `npm run typecheck`; tests only transpile, which keeps them fast on 2 cores.
  '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
};
const common = {
  testEnvironment: '<rootDir>/test/support/shared-realm.environment.js',
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  transform,
  // The worker runtime ships hwcToChw to its threads as source text: instrumented, it would call
  // coverage counters that do not exist there.
  coveragePathIgnorePatterns: [
    '/node_modules/',
    '<rootDir>/libs/models/src/pixel-tensor.converter.ts',
  ],
};

module.exports = {
  // Kafka and fresh service bundles for the e2e project (skipped when only unit tests run).
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
  projects: [
    // Pure logic with strict mocks: no ffmpeg, no models, no network.
    {
      ...common,
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'],
    },
    // Medium and end-to-end tests against real ffmpeg, real models and real recordings from ../shared.
    {
      ...common,
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
    },
  ],
};
