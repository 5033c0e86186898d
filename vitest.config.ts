import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the "@shardsync/source"
// condition, so tests run against src/ without a build step in between. Dependencies in
// node_modules keep Node's own resolution: no "module" condition, which would pick the AWS
// SDK's bundler-only dist-es builds that Node cannot load.
const conditions = ['@shardsync/source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    // The AWS SDK's notice that its future releases need Node 22, once per process (and test
    // files run services as child processes): noise in every test log. README "Quick start".
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'infra/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.int.test.ts', 'services/*/test/**/*.int.test.ts', 'infra/test/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          globalSetup: ['packages/testing/src/global-setup.ts'],
          // One file at a time: fault tests stop and restart shared servers (Kafka, one
          // datacenter's S3 server), which would break files running beside them.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
