import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['**/dist', '**/node_modules', '**/files/**', '.nx/**', 'tmp/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Layering (STYLE.md): contracts <- platform <- kit <- apps; the gateway and the services never meet.
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            {
              sourceTag: 'type:contracts',
              onlyDependOnLibsWithTags: ['type:contracts'],
              bannedExternalImports: ['@nestjs/*', 'nats', 'ioredis', 'typeorm', 'pg', 'better-sqlite3', 'express'],
            },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform'] },
            {
              sourceTag: 'type:kit',
              onlyDependOnLibsWithTags: ['type:contracts', 'type:platform'],
              bannedExternalImports: [
                '@modelcontextprotocol/sdk/server/*',
                '@modelcontextprotocol/server',
                '@modelcontextprotocol/node',
                'nats',
                'ioredis',
                'typeorm',
                'pg',
                'better-sqlite3',
              ],
            },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform', 'type:kit'] },
            { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:contracts', 'type:platform'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            {
              sourceTag: 'scope:service',
              onlyDependOnLibsWithTags: ['scope:shared', 'scope:service'],
              bannedExternalImports: [
                '@modelcontextprotocol/sdk/server/*',
                '@modelcontextprotocol/server',
                '@modelcontextprotocol/node',
                'nats',
                'ioredis',
              ],
            },
            {
              sourceTag: 'scope:gateway',
              onlyDependOnLibsWithTags: ['scope:shared', 'scope:gateway'],
              bannedExternalImports: ['nats', 'ioredis', 'typeorm', 'pg', 'better-sqlite3'],
            },
          ],
        },
      ],
    },
  },
  {
    // The gateway's layers (ARCHITECTURE.md): only the protocol adapters know the SDK's server side.
    files: ['apps/gateway/src/**/*.ts'],
    ignores: ['apps/gateway/src/app/protocol/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@modelcontextprotocol/sdk/server/*',
                '@modelcontextprotocol/sdk/shared/protocol.js',
                '@modelcontextprotocol/sdk/shared/transport.js',
                '@modelcontextprotocol/server',
                '@modelcontextprotocol/server/*',
                '@modelcontextprotocol/node',
              ],
              message: 'Only apps/gateway/src/app/protocol/** may use the SDK server side (protocol adapters).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
