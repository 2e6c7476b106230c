// Two projects: unit tests need nothing; integration and e2e tests run against the real
// services that test/support/global-setup.ts finds or starts (never skipped when missing).
const transform = { '^.+\\.ts$': ['ts-jest', {}] };
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      setupFiles: ['<rootDir>/test/support/load-env.ts'],
    },
  ],
};
