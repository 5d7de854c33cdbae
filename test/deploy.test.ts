// The deployment files, checked offline: Kubernetes manifests against the Kubernetes and KEDA schemas
// (kubernetes-models ships them), the KEDA key names against what BullMQ really writes to Redis, Redis'
// password and NetworkPolicy, the Sentinel component's patches applied to the manifests they patch, the
// Compose file's services, and the Dockerfile's stages and user.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SHUTDOWN_MARGIN } from '../src/core/worker/worker.js';
import { parseConfig, resolveServiceOptions } from '../src/core/config/load.js';
import { workerConfigSchema, type WorkerConfig } from '../src/core/config/schema.js';
import { parseRedisUrl } from '../src/core/redis/url.js';
import { deletePrefix, redisUrl, ROOT, services, uniquePrefix } from './helpers.js';

const K8S = join(ROOT, 'deploy/k8s');
/** The image's init, as installed by Debian's `tini` package. */
const TINI = ['/usr/bin/tini', '--'];
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** The server's command, V8 flags included, as `npm run start:server` runs it: every deployment runs the same. */
const SERVER_COMMAND = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start:server']!.split(' ');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any };

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest).validate();
}

function loadManifests(dir: string, files: string[]): (Manifest & { file: string })[] {
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      return { ...(doc.toJS() as Manifest), file };
    }),
  );
}

const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'));
const keda = parse(readFileSync(join(K8S, 'keda/kustomization.yaml'), 'utf8'));
const manifests = [...loadManifests(K8S, kustomization.resources), ...loadManifests(join(K8S, 'keda'), keda.resources)];
const find = (kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const podSpec = (name: string) => find('Deployment', name).spec.template.spec;

/** The worker config a worker Deployment mounts, from the configMapGenerator entry its volume names. */
function workerConfigOf(deployment: string): WorkerConfig {
  const configMap = podSpec(deployment).volumes.find((v: any) => v.configMap).configMap.name;
  const entry = kustomization.configMapGenerator.find((g: any) => g.name === configMap);
  const [, source] = /^(?:[^=]+=)?(.+)$/.exec(entry.files[0])!;
  const config = parseConfig(workerConfigSchema, source, parse(readFileSync(join(K8S, source), 'utf8')));
  resolveServiceOptions(source, config.services, services);
  return config;
}

describe('Kubernetes manifests', () => {
  it('validate against the Kubernetes and KEDA schemas, every one of them', () => {
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'Deployment/server',
      'Deployment/worker',
      'Deployment/worker-heavy',
      'Namespace/selfhost',
      'NetworkPolicy/redis',
      'Role/worker-pod-deletion-cost',
      'RoleBinding/worker-pod-deletion-cost',
      'ScaledObject/worker',
      'ScaledObject/worker-heavy',
      'Service/redis',
      'Service/server',
      'ServiceAccount/worker',
      'StatefulSet/redis',
      'TriggerAuthentication/redis-auth',
    ]);
    for (const manifest of manifests) expect(() => validate(manifest), `${manifest.file}: ${manifest.kind}`).not.toThrow();
  });

  it('are checked for real: the validator rejects a broken Deployment', () => {
    const broken = structuredClone(find('Deployment', 'server'));
    broken.spec.replicas = 'two';
    expect(() => validate(broken)).toThrow(/replicas must be integer/);
    delete broken.spec.replicas;
    broken.spec.template.spec.containers[0].livenessProbe.httpGet.port = undefined;
    expect(() => validate(broken)).toThrow(/httpGet must have required property port/);
  });

  it('name only files that exist; those with secrets (password hashes, the Redis password) are git-ignored', () => {
    const generated = [...kustomization.secretGenerator, ...kustomization.configMapGenerator].flatMap((g: any) =>
      [...(g.files ?? []), ...(g.envs ?? [])].map((f: string) => f.replace(/^[^=]+=/, '')),
    );
    const secret = ['server_config.yaml', 'redis-auth.env'];
    for (const file of generated.filter((f: string) => !secret.includes(f))) expect(existsSync(join(K8S, file)), file).toBe(true);
    for (const file of secret) {
      expect(generated).toContain(file);
      const ignored = spawnSync('git', ['check-ignore', '-q', `deploy/k8s/${file}`], { cwd: ROOT });
      expect(ignored.status, `deploy/k8s/${file} must be git-ignored`).toBe(0);
    }
    expect(keda.kind).toBe('Component');
  });

  it('run the server with its config from a Secret, a readiness and a liveness probe', () => {
    const spec = podSpec('server');
    const [container] = spec.containers;
    expect(container.command).toEqual(SERVER_COMMAND);
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(kustomization.secretGenerator.map((g: any) => g.name)).toContain(spec.volumes.find((v: any) => v.secret).secret.secretName);
    expect(find('Service', 'server').spec.ports[0].targetPort).toBe('http');
  });

  it.each([
    ['worker', 'tasks'],
    ['worker-heavy', 'heavy'],
  ])('run %s on the "%s" queue, with a liveness probe on its health port and room for the shutdown grace', (name, queue) => {
    const config = workerConfigOf(name);
    expect(config.queue).toBe(queue);
    const spec = podSpec(name);
    const [container] = spec.containers;
    // Under tini, which reaps what a service's processes leave behind: a pod's command replaces the image's ENTRYPOINT.
    expect(container.command).toEqual(TINI);
    expect(container.args).toEqual(['node', 'dist/worker.js']);
    expect(container.ports).toContainEqual({ name: 'health', containerPort: config.health_port });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    // The worker may take shutdown_grace, then kill_after, then its margin to stop: Kubernetes must wait longer.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(config.shutdown_grace + config.kill_after + SHUTDOWN_MARGIN);
  });

  it('let the workers, and only them, patch pods (their deletion cost), and nothing else', () => {
    expect((find('Role', 'worker-pod-deletion-cost') as any).rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['patch'] }]);
    const binding = find('RoleBinding', 'worker-pod-deletion-cost') as any;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'worker' }]);
    for (const name of ['worker', 'worker-heavy']) {
      const spec = podSpec(name);
      expect(spec.serviceAccountName).toBe('worker');
      const env = Object.fromEntries(spec.containers[0].env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
      expect(env).toMatchObject({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' });
    }
    expect(podSpec('server').serviceAccountName).toBeUndefined();
  });

  it('run every pod as a non-root user', () => {
    for (const m of manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet')) {
      expect(m.spec.template.spec.securityContext.runAsNonRoot, m.metadata.name).toBe(true);
      expect(m.spec.template.spec.securityContext.runAsUser, m.metadata.name).toBeGreaterThan(0);
    }
  });

  it('give the development Redis AOF, noeviction and a volume', () => {
    const redis = find('StatefulSet', 'redis').spec;
    const args: string[] = redis.template.spec.containers[0].args;
    expect(args.join(' ')).toContain('--appendonly yes');
    expect(args.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(redis.volumeClaimTemplates[0].metadata.name).toBe(redis.template.spec.containers[0].volumeMounts[0].name);
  });
});

type Labels = Record<string, string>;
type Selector = { matchLabels?: Labels; matchExpressions?: { key: string; operator: string; values: string[] }[] };

/** Whether a label selector (matchLabels, and matchExpressions with In) selects a pod with `labels`. */
function selects(selector: Selector, labels: Labels): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return byLabel && (selector.matchExpressions ?? []).every((e) => e.operator === 'In' && e.values.includes(labels[e.key]));
}

/** Whether an ingress rule's `from` admits a pod with `labels` in the policy's own namespace, or in namespace `namespace`. */
function admits(from: any[], labels: Labels, namespace?: string): boolean {
  return from.some((peer) =>
    peer.namespaceSelector
      ? namespace !== undefined && selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': namespace }) && selects(peer.podSelector ?? {}, labels)
      : namespace === undefined && selects(peer.podSelector, labels),
  );
}

const env = (container: any, name: string) => container.env.find((e: any) => e.name === name);
const podLabels = (kind: string, name: string): Labels => find(kind, name).spec.template.metadata.labels;

describe('Redis in Kubernetes', () => {
  const redis = find('StatefulSet', 'redis').spec.template.spec.containers[0];
  const processes = ['server', 'worker', 'worker-heavy'].map((name) => ({ name, container: podSpec(name).containers[0] }));
  const fromSecret = { valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'password' } } };

  it('asks for the password of the Secret redis-auth, and its probe gives it', () => {
    expect(kustomization.secretGenerator.find((g: any) => g.name === 'redis-auth')).toMatchObject({ options: { disableNameSuffixHash: true } });
    expect(env(redis, 'REDIS_PASSWORD')).toMatchObject(fromSecret);
    expect(redis.args.join(' ')).toContain('--requirepass $(REDIS_PASSWORD)');
    // redis-cli reads the password from REDISCLI_AUTH.
    expect(redis.readinessProbe.exec.command[0]).toBe('redis-cli');
    expect(env(redis, 'REDISCLI_AUTH')).toMatchObject(fromSecret);
  });

  it.each(['server', 'worker', 'worker-heavy'])('gives %s a URL with that password, defined before the URL that reads it', (name) => {
    const { container } = processes.find((p) => p.name === name)!;
    expect(env(container, 'REDIS_PASSWORD')).toMatchObject(fromSecret);
    const names = container.env.map((e: any) => e.name);
    // Kubernetes expands $(VAR) only for variables listed before.
    expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
    const url = parseRedisUrl(env(container, 'REDIS_URL').value.replace('$(REDIS_PASSWORD)', 'f00d'));
    expect(url).toMatchObject({ kind: 'single', password: 'f00d', hosts: [{ host: find('Service', 'redis').metadata.name, port: 6379 }] });
  });

  it('lets only the server, the workers and KEDA reach it (NetworkPolicy)', () => {
    const policy = find('NetworkPolicy', 'redis').spec;
    expect(selects(policy.podSelector, podLabels('StatefulSet', 'redis'))).toBe(true);
    expect(policy.policyTypes).toEqual(['Ingress']);
    const [rule, ...others] = policy.ingress;
    expect(others).toEqual([]);
    for (const name of ['server', 'worker', 'worker-heavy']) expect(admits(rule.from, podLabels('Deployment', name)), name).toBe(true);
    expect(admits(rule.from, { app: 'keda-operator' }, 'keda')).toBe(true);
    // Anything else, here or in another namespace, is refused.
    expect(admits(rule.from, { 'app.kubernetes.io/name': 'selfhost', 'app.kubernetes.io/component': 'debug' })).toBe(false);
    expect(admits(rule.from, { app: 'anything' })).toBe(false);
    expect(admits(rule.from, podLabels('Deployment', 'server'), 'other')).toBe(false);
    expect(rule.ports).toEqual([{ port: 'redis' }]);
    expect(redis.ports.map((p: any) => p.name)).toContain('redis');
  });
});

/** Applies JSON patch operations (add, replace, remove; "-" appends), as kustomize does for a component. */
function applyJsonPatch(target: any, ops: { op: string; path: string; value?: unknown }[]): any {
  const copy = structuredClone(target);
  for (const { op, path, value } of ops) {
    const keys = path.split('/').slice(1);
    const last = keys.pop()!;
    const parent = keys.reduce((node, key) => {
      if (node?.[key] === undefined) throw new Error(`${path}: no ${key}`);
      return node[key];
    }, copy);
    if (op === 'remove' || op === 'replace') {
      if (!(last in parent)) throw new Error(`${path}: nothing to ${op}`);
      if (op === 'remove') delete parent[last];
      else parent[last] = value;
    } else if (op === 'add') {
      if (Array.isArray(parent) && last === '-') parent.push(value);
      else parent[last] = value;
    } else throw new Error(`unknown op ${op}`);
  }
  return copy;
}

describe('the redis-sentinel component', () => {
  const DIR = join(K8S, 'redis-sentinel');
  const component = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'));
  const file = (name: string) => parse(readFileSync(join(DIR, name), 'utf8'));
  const patchFor = (kind: string) => component.patches.find((p: any) => (p.target?.kind ?? file(p.path).kind) === kind);
  const sentinelService = loadManifests(DIR, component.resources).find((m) => m.kind === 'Service')!;
  const MASTER = /sentinel monitor (\S+) /.exec(readFileSync(join(DIR, 'start-sentinel.sh'), 'utf8'))![1];

  it('is a component whose resources validate, whose scripts are valid shell, and which the base lists', () => {
    expect(component.kind).toBe('Component');
    validate(sentinelService);
    for (const script of component.configMapGenerator[0].files) expect(spawnSync('sh', ['-n', join(DIR, script)]).status, script).toBe(0);
    const base = readFileSync(join(K8S, 'kustomization.yaml'), 'utf8');
    expect(base).toMatch(/^#\s+- redis-sentinel$/m);
    expect(existsSync(join(K8S, 'redis-sentinel'))).toBe(true);
  });

  it('turns the Redis StatefulSet into three Redis pods each with a sentinel, which validate', () => {
    const patch = file('statefulset.yaml');
    const base = find('StatefulSet', 'redis');
    expect(patch.spec.replicas).toBe(3);
    const [redis, sentinel] = patch.spec.template.spec.containers;
    expect(redis.name).toBe(base.spec.template.spec.containers[0].name);
    // The patched pod, merged by container name as kustomize does, validates.
    const merged = structuredClone(base);
    Object.assign(merged.spec.template.spec.containers[0], { command: redis.command, volumeMounts: [...merged.spec.template.spec.containers[0].volumeMounts, ...redis.volumeMounts] });
    merged.spec.template.spec.containers.push(sentinel);
    merged.spec.template.spec.volumes = patch.spec.template.spec.volumes;
    merged.spec.template.spec.affinity = patch.spec.template.spec.affinity;
    merged.spec.replicas = 3;
    expect(() => validate(merged)).not.toThrow();
    expect(sentinel.ports).toEqual([{ name: sentinelService.spec.ports[0].targetPort, containerPort: sentinelService.spec.ports[0].port }]);
    expect(sentinel.securityContext).toEqual(base.spec.template.spec.containers[0].securityContext);
    expect(patch.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name).toBe(component.configMapGenerator[0].name);
  });

  it.each(['server', 'worker'])('points the %s containers at the sentinels, with the password defined first', (container) => {
    const entry = component.patches.find((p: any) => p.target?.labelSelector === `app.kubernetes.io/component=${container}`);
    const patched = file(entry.path).spec.template.spec.containers[0];
    expect(patched.name).toBe(container);
    expect(patched.env.map((e: any) => e.name)).toEqual(['REDIS_PASSWORD', 'REDIS_URL']);
    const url = parseRedisUrl(env(patched, 'REDIS_URL').value.replaceAll('$(REDIS_PASSWORD)', 'f00d'));
    expect(url).toMatchObject({
      kind: 'sentinel',
      password: 'f00d',
      sentinelPassword: 'f00d',
      masterName: MASTER,
      hosts: [{ host: sentinelService.metadata.name, port: sentinelService.spec.ports[0].port }],
    });
  });

  it("opens the sentinels' port to the same clients, and both ports between the Redis pods", () => {
    const [clients, peers] = file('networkpolicy.yaml').spec.ingress;
    const base = find('NetworkPolicy', 'redis').spec.ingress[0];
    expect(clients.from).toEqual(base.from);
    expect(clients.ports).toEqual([{ port: 'redis' }, { port: 'sentinel' }]);
    expect(admits(peers.from, podLabels('StatefulSet', 'redis'))).toBe(true);
    expect(admits(peers.from, podLabels('Deployment', 'server'))).toBe(false);
  });

  it("switches KEDA's triggers to the sentinels, and the results validate", () => {
    const triggerOps = file(patchFor('ScaledObject').path);
    const authOps = file(patchFor('TriggerAuthentication').path);
    for (const so of manifests.filter((m) => m.kind === 'ScaledObject')) {
      const patched = applyJsonPatch(so, triggerOps);
      expect(() => validate(patched), so.metadata.name).not.toThrow();
      for (const [i, trigger] of patched.spec.triggers.entries()) {
        expect(trigger.type).toBe('redis-sentinel');
        expect(trigger.metadata).toEqual({
          ...so.spec.triggers[i].metadata,
          address: undefined,
          addresses: `${sentinelService.metadata.name}.${kustomization.namespace}.svc.cluster.local:${sentinelService.spec.ports[0].port}`,
          sentinelMaster: MASTER,
        });
      }
    }
    const auth = applyJsonPatch(find('TriggerAuthentication', 'redis-auth'), authOps);
    expect(() => validate(auth)).not.toThrow();
    expect(auth.spec.secretTargetRef.map((r: any) => r.parameter)).toEqual(['password', 'sentinelPassword']);
  });
});

describe('KEDA ScaledObjects', () => {
  const scaledObjects = manifests.filter((m) => m.kind === 'ScaledObject');

  it('scale each worker Deployment on waiting + prioritized + active, with one job per pod', () => {
    for (const so of scaledObjects) {
      const target = so.spec.scaleTargetRef.name;
      const config = workerConfigOf(target);
      const names = so.spec.triggers.map((t: any) => t.name);
      expect(names).toEqual(['waiting', 'prioritized', 'active']);
      expect(so.spec.advanced.scalingModifiers).toMatchObject({ formula: names.join(' + '), target: '1', metricType: 'AverageValue' });
      expect(so.spec.triggers.map((t: any) => t.metadata.listName)).toEqual(
        ['wait', 'prioritized', 'active'].map((key) => `${config.queue_prefix}:${config.queue}:${key}`),
      );
      for (const trigger of so.spec.triggers) {
        expect(trigger.type).toBe('redis');
        expect(trigger.metadata.address).toBe(`redis.${kustomization.namespace}.svc.cluster.local:6379`);
        expect(trigger.authenticationRef).toEqual({ name: 'redis-auth' });
      }
    }
    expect(scaledObjects.map((so) => so.spec.scaleTargetRef.name).sort()).toEqual(['worker', 'worker-heavy']);
  });

  it("authenticate with Redis' password from the Secret", () => {
    expect(find('TriggerAuthentication', 'redis-auth').spec.secretTargetRef).toEqual([{ parameter: 'password', name: 'redis-auth', key: 'password' }]);
  });

  describe('count the keys BullMQ really writes', () => {
    const prefix = uniquePrefix();
    const redis = new Redis(redisUrl());
    afterAll(async () => {
      await deletePrefix(redisUrl(), prefix);
      redis.disconnect();
    });

    /** What KEDA's redis scaler reads for a listName: LLEN of a list, ZCARD of a sorted set, 0 when absent. */
    async function kedaLength(key: string): Promise<number> {
      const type = await redis.type(key);
      if (type === 'list') return redis.llen(key);
      if (type === 'zset') return redis.zcard(key);
      if (type === 'none') return 0;
      throw new Error(`${key} is a ${type}, which the formula does not expect`);
    }

    it('waiting, prioritized and active jobs all show up in the formula', async () => {
      const so = find('ScaledObject', 'worker');
      const config = workerConfigOf('worker');
      const queue = new Queue(config.queue, { connection: redis, prefix });
      await queue.add('sleep', {});
      await queue.add('sleep', {});
      await queue.add('sleep', {}, { priority: 5 });
      // Take one job into "active" the way a worker does, without running it.
      const workerConnection = redis.duplicate({ maxRetriesPerRequest: null });
      const worker = new Worker(config.queue, null, { connection: workerConnection, prefix, autorun: false });
      expect(await worker.getNextJob('test-token')).toBeDefined();

      const counts = await queue.getJobCounts('waiting', 'prioritized', 'active');
      expect(counts).toEqual({ waiting: 1, prioritized: 1, active: 1 });
      const lengths = await Promise.all(
        so.spec.triggers.map((t: any) => kedaLength(t.metadata.listName.replace(`${config.queue_prefix}:`, `${prefix}:`))),
      );
      expect(lengths).toEqual([counts.waiting, counts.prioritized, counts.active]);
      await worker.close(true);
      await queue.close();
      workerConnection.disconnect();
    });
  });
});

describe('compose.yaml', () => {
  const compose = parse(read('compose.yaml'));

  it('names redis, server and worker, and publishes only the server port, on this machine only', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['redis', 'server', 'worker']);
    const published = Object.entries(compose.services).filter(([, s]: [string, any]) => s.ports);
    expect(published.map(([name]) => name)).toEqual(['server']);
    expect(compose.services.server.ports).toEqual(['127.0.0.1:8000:8000']);
  });

  it('runs Redis with AOF, noeviction under a maxmemory below its memory limit, and a named volume', () => {
    const redis = compose.services.redis;
    expect(redis.command.join(' ')).toMatch(/--appendonly yes.*--maxmemory-policy noeviction/);
    const mb = (size: string) => parseInt(size, 10) * (/g/i.test(size) ? 1024 : 1);
    const maxmemory = redis.command[redis.command.indexOf('--maxmemory') + 1];
    expect(mb(maxmemory)).toBeLessThan(mb(redis.mem_limit));
    const [volume] = redis.volumes[0].split(':');
    expect(Object.keys(compose.volumes)).toContain(volume);
  });

  it('lets workers scale (no fixed name or port), mounts configs from files, and waits out the shutdown grace', () => {
    const { server, worker } = compose.services;
    expect(worker.container_name).toBeUndefined();
    expect(worker.command).toEqual(['node', 'dist/worker.js']);
    expect(server.command).toEqual(SERVER_COMMAND);
    expect(compose.secrets[server.secrets[0].source].file).toBe('./server_config.yaml');
    expect(compose.configs[worker.configs[0].source].file).toBe('./worker_config.yaml');
    expect(server.environment.CONFIG_FILENAME).toBe(`/run/secrets/${server.secrets[0].target}`);
    expect(worker.environment.CONFIG_FILENAME).toBe(worker.configs[0].target);
    expect(worker.healthcheck.test.join(' ')).toContain(`127.0.0.1:${worker.environment.HEALTH_PORT}/healthz`);
    const defaults = workerConfigSchema.parse({});
    expect(parseInt(worker.stop_grace_period, 10)).toBeGreaterThan(defaults.shutdown_grace + defaults.kill_after + SHUTDOWN_MARGIN);
    for (const s of [server, worker]) expect(s.depends_on.redis.condition).toBe('service_healthy');
    // The image's ENTRYPOINT is its init (tini); Compose's own `init: true` would start a second one.
    for (const s of [server, worker]) expect(s.init).toBeUndefined();
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const line of lines) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  const final = stages.at(-1)!;
  const instruction = (name: string) => final.filter((l) => l.toUpperCase().startsWith(`${name} `));

  it('is multi-stage on a Node slim image, and installs only production dependencies in the image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM node:\$\{NODE_VERSION\}-slim\b/);
    expect(lines).toContain('ARG NODE_VERSION=24');
    expect(lines.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    expect(lines.some((l) => /^RUN npm run build$/.test(l))).toBe(true);
  });

  it('runs as a non-root user, with node under tini and a HEALTHCHECK on the server', () => {
    const users = instruction('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.split(/\s+/)[1].split(':')[0];
    expect(['root', '0']).not.toContain(user);
    expect(JSON.parse(instruction('CMD')[0].slice(4))).toEqual(SERVER_COMMAND);
    // tini as PID 1 reaps zombies, and is installed in the final stage, as root, before USER.
    expect(JSON.parse(instruction('ENTRYPOINT')[0].slice('ENTRYPOINT '.length))).toEqual(TINI);
    const install = final.findIndex((l) => /^RUN apt-get update\s+&&\s+apt-get install -y --no-install-recommends tini\b/.test(l));
    expect(install).toBeGreaterThan(0);
    expect(install).toBeLessThan(final.findIndex((l) => l.startsWith('USER ')));
    expect(instruction('HEALTHCHECK')[0]).toContain('/healthz');
  });

  it('sends only sources to the build: the .dockerignore excludes everything else, config files included', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    for (const allowed of ignore.filter((l) => l.startsWith('!'))) expect(allowed).not.toMatch(/_config|\.ya?ml/);
  });
});
