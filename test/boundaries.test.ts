// The layout's boundaries are lint rules (eslint.config.js): each import that crosses one is refused.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const eslint = new ESLint({ cwd: ROOT });

/** The rule ids ESLint reports for `code` as if it were the file at `path`. */
async function refusals(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${path}` });
  return result.messages.map((m) => m.ruleId ?? m.message);
}

describe('the boundaries between the rooms of src/core', () => {
  it.each([
    ['the task store imports nothing of HTTP', 'src/core/tasks/new.ts', "import { errorJson } from '../http/errors.js';\nexport const a = errorJson;"],
    ['the task store imports no Hono', 'src/core/tasks/new.ts', "import { Hono } from 'hono';\nexport const a = Hono;"],
    ['the worker loads no HTTP routes', 'src/core/worker/new.ts', "import { health } from '../api/health.js';\nexport const a = health;"],
    ['the service process loads no BullMQ', 'src/core/worker/dispatch.ts', "import { Queue } from 'bullmq';\nexport const a = Queue;"],
    ['the service process loads not even its types through the worker', 'src/core/worker/sandbox-entry.ts', "import type { Sandbox } from './sandbox.js';\nexport type A = Sandbox;"],
    ['a service reaches no Redis', 'src/services/new.ts', "import { connect } from '../core/redis/connection.js';\nexport const a = connect;"],
    ['webhooks serve no routes: they know nothing of the API', 'src/core/webhooks/new.ts', "import { tasksApi } from '../api/tasks.js';\nexport const a = tasksApi;"],
    ['webhooks make their requests without Hono', 'src/core/webhooks/new.ts', "import { Hono } from 'hono';\nexport const a = Hono;"],
    ['nothing below imports upward', 'src/core/process/new.ts', "import { loadServerConfig } from '../config/load.js';\nexport const a = loadServerConfig;"],
  ])('%s', async (_, path, code) => {
    expect(await refusals(path, code)).toEqual(['no-restricted-imports']);
  });

  it.each([
    ['the worker uses the shared error JSON', 'src/core/worker/new.ts', "import { errorJson } from '../http/errors.js';\nexport const a = errorJson;"],
    ['the service process runs the contract', 'src/core/worker/sandbox-entry.ts', "import { createRunner } from './dispatch.js';\nexport const a = createRunner;"],
    ['the worker announces a task’s end for its webhook', 'src/core/worker/new.ts', "import { Announcer } from '../webhooks/deliveries.js';\nexport const a = Announcer;"],
    ['a service tests itself with runLocal', 'src/services/new.ts', "import { runLocal } from '../core/service/run-local.js';\nexport const a = runLocal;"],
  ])('allows: %s', async (_, path, code) => {
    expect(await refusals(path, code)).toEqual([]);
  });
});
