import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'bench/.build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The service contract's promise, checked: a service cannot tell a test, a worker or the CLI apart.
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['hono', 'hono/*', '@hono/*', 'bullmq', 'ioredis', '@bull-board/*'],
          message: 'A service imports nothing from the HTTP server or the queue; see src/services/README.md.',
        }],
      }],
    },
  },
);
