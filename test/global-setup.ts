// One Redis for the whole run: REDIS_URL when set, else a private redis-server on a free port.
// Tests isolate themselves by key prefix and delete only their own keys.
import type { TestProject } from 'vitest/node';
import { startPrivateRedis } from '../scripts/private-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return;
  }
  const redis = await startPrivateRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
