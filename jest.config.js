// `jest` runs every test: unit specs next to the code, integration specs against the machine's NATS,
// PostgreSQL and Redis, end-to-end specs that start the built apps as OS processes, and the official MCP
// conformance suite against the built fabric (`npm run conformance` runs only that).
const preset = require('./jest.preset');

module.exports = {
  // End-to-end specs start processes; a generous ceiling, the specs themselves wait on conditions.
  testTimeout: 60_000,
  projects: [
    { ...preset, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'] },
    { ...preset, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts'] },
    { ...preset, displayName: 'e2e', testMatch: ['<rootDir>/apps/fabric-e2e/**/*.e2e-spec.ts'] },
    { ...preset, displayName: 'conformance', testMatch: ['<rootDir>/apps/fabric-e2e/**/*.conformance-spec.ts'] },
  ],
};
