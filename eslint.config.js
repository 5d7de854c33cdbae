import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const HTTP = ['hono', 'hono/*', '@hono/*', '@bull-board/*'];
const QUEUE = ['bullmq', 'ioredis'];

/**
 * The rooms of src/core and what each may not import: a room never imports one above it, so the
 * layout cannot rot into cycles (docs/architecture.md draws it). Paths are relative to a room's files.
 */
const ROOMS = {
  process: ['../*/**'],
  redis: ['../*/**', '!../process/**'],
  service: ['../*/**', '!../process/**', ...HTTP, ...QUEUE],
  // config checks password hashes and Redis URLs, so it may read auth's hash formats and redis' URL forms
  // (two modules that import nothing), and nothing else of auth or redis.
  config: ['../*/**', '!../process/**', '!../service/**', '!../auth/password-hash.js', '!../redis/url.js'],
  // The task store knows nothing of HTTP: a worker, a script or a test can use it without a server.
  tasks: ['../*/**', '!../process/**', '!../redis/**', '!../service/**', ...HTTP],
  // Webhooks: the queue of deliveries, which workers fill and servers empty, over the task store; they make
  // their own requests with node:http and serve none.
  webhooks: ['../*/**', '!../process/**', '!../redis/**', '!../tasks/**', ...HTTP],
  // HTTP plumbing both the server and the worker's health port use (the error JSON among it).
  http: ['../*/**', '!../process/**', '!../redis/**'],
  auth: ['../*/**', '!../process/**', '!../redis/**', '!../http/**'],
  api: ['../openapi/**', '../server/**', '../worker/**'],
  openapi: ['../server/**', '../worker/**'],
  // A worker serves no HTTP routes: only its own small health port, on the shared HTTP plumbing.
  worker: ['../api/**', '../auth/**', '../openapi/**', '../server/**'],
  server: ['../worker/**'],
};

const restrict = (group, message) => ({ 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] });

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
  ...Object.entries(ROOMS).map(([room, group]) => ({
    files: [`src/core/${room}/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: restrict(group, `src/core/${room} may not import this: see the rooms in docs/architecture.md.`),
  })),
  {
    // The service process runs these and the services: it loads no BullMQ, ioredis or Hono, so a
    // service process stays small and a service cannot reach the queue.
    files: ['src/core/worker/sandbox-entry.ts', 'src/core/worker/dispatch.ts', 'src/core/worker/protocol.ts', 'src/core/worker/output.ts'],
    rules: restrict(
      ['../*/**', '!../process/**', '!../service/**', './*', '!./dispatch.js', '!./protocol.js', '!./output.js', ...HTTP, ...QUEUE],
      'The service process loads no BullMQ, ioredis or Hono: see docs/architecture.md.',
    ),
  },
  {
    // The service contract's promise, checked: a service cannot tell a test, a worker or the CLI apart.
    files: ['src/services/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict(
      [...HTTP, ...QUEUE, '../core/*/**', '!../core/service/**'],
      'A service imports nothing from the HTTP server or the queue, and of core only the service contract; see src/services/README.md.',
    ),
  },
);
