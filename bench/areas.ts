// Where a process's CPU went, by area of the code: `npx tsx bench/areas.ts PROFILE.cpuprofile [requests]`.
// Each sample is charged to the innermost frame that belongs to a known area, so a syscall counts for the
// code that made it (a socket write for ioredis, say). Samples before the first HTTP answer (start-up) are
// left out; a profile with none (a worker's) counts them all. With the number of requests the profile covers, it also prints microseconds per request.
// docs/performance.md has the tables it made, and how.
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** First match wins, innermost frame first. */
const AREAS: [string, RegExp][] = [
  ['auth', /\/core\/auth\/|\/core\/http\/client-address\.[jt]s|basic-auth|lru-cache/],
  ['request log', /pino|sonic-boom|\/core\/(http\/request-log|process\/logger)\.[jt]s/],
  ['metrics', /prom-client|@hono\/prometheus|\/core\/api\/metrics\.[jt]s/],
  ['security headers, request id', /\/core\/http\/node-headers\.[jt]s/],
  ['input validation', /zod|\/core\/api\/submit\.[jt]s/],
  ['status read', /\/core\/(tasks\/(status|queue)|api\/(wait|tasks))\.[jt]s/],
  ['BullMQ', /bullmq|msgpackr/],
  ['ioredis (incl. its socket writes)', /ioredis|redis-parser/],
  ['@hono/node-server (incl. the answer\'s socket write)', /@hono\/node-server/],
  ['Hono routing and context', /node_modules\/hono\//],
  ['the rest of the app', /\/src\/|\/bench\//],
];
const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)']);

export function areas(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const serving = (id: number) => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (byId.get(at)!.callFrame.url.includes('@hono/node-server')) return true;
    return false;
  };
  const first = Math.max(0, profile.samples.findIndex(serving));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (i >= first) self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]);
  });
  const out = new Map<string, number>();
  for (const [id, micros] of self) {
    const { functionName } = byId.get(id)!.callFrame;
    let area = SPECIAL.has(functionName) ? functionName : 'Node.js (HTTP parsing, timers, module loading)';
    for (let at: number | undefined = id; at !== undefined && !SPECIAL.has(functionName); at = parent.get(at)) {
      const { functionName: name, url } = byId.get(at)!.callFrame;
      const hit = AREAS.find(([, re]) => re.test(`${name} ${url}`));
      if (hit) {
        area = hit[0];
        break;
      }
    }
    out.set(area, (out.get(area) ?? 0) + micros);
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [file, requests] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/areas.ts PROFILE.cpuprofile [requests]\n');
    process.exit(2);
  }
  const found = areas(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const busy = [...found].filter(([k]) => k !== '(idle)').reduce((sum, [, v]) => sum + v, 0);
  process.stdout.write(`busy ${(busy / 1e6).toFixed(2)} s of CPU, idle ${((found.get('(idle)') ?? 0) / 1e6).toFixed(2)} s\n`);
  for (const [area, micros] of [...found].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1])) {
    const perRequest = requests ? `  ${(micros / Number(requests)).toFixed(1).padStart(6)} µs/request` : '';
    process.stdout.write(`${((100 * micros) / busy).toFixed(1).padStart(5)}%${perRequest}  ${area}\n`);
  }
}
