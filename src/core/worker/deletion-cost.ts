// Keeps this worker pod's `controller.kubernetes.io/pod-deletion-cost` annotation current, so that a
// scale-in removes idle worker pods before busy ones (docs/deployment.md#scale-in). Off outside a cluster.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../process/logger.js';
import { progressWriter } from './progress.js';

export const ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';
/** The costs written: Kubernetes removes the pods of lowest cost first. */
export const BUSY_COST = 1000;
export const IDLE_COST = 0;

/** Where the Kubernetes API is, and who this pod is. */
export interface PodApi {
  /** `https://host:port` of the API server (plain http only in tests). */
  base: string;
  namespace: string;
  pod: string;
  token: string;
  /** The cluster's CA certificate, PEM. */
  ca?: string;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The API of the cluster this process runs in, or undefined outside one: Kubernetes sets
 * KUBERNETES_SERVICE_HOST in every pod and mounts the service account's token; the manifests give the
 * pod's name and namespace (POD_NAME, POD_NAMESPACE) through the downward API.
 */
export function podApiFromEnvironment(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT): PodApi | undefined {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port = '443', POD_NAME: pod, POD_NAMESPACE: namespace } = env;
  if (!host || !pod || !namespace) return undefined;
  try {
    const token = readFileSync(`${dir}/token`, 'utf8').trim();
    const ca = readFileSync(`${dir}/ca.crt`, 'utf8');
    return { base: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, namespace, pod, token, ca };
  } catch {
    return undefined; // automountServiceAccountToken: false: no token, so nothing to write with
  }
}

export interface DeletionCost {
  /** Marks the pod busy (a task runs) or idle. Writes are coalesced, the latest kept, and never throw. */
  set(busy: boolean): void;
  /** Resolves once the last value is written (or failed). */
  flush(): Promise<void>;
}

/** Writes the annotation through `api` with a JSON merge patch, at most twice a second; failures are logged. */
export function deletionCost(api: PodApi, log: Logger): DeletionCost {
  const url = new URL(`/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods/${encodeURIComponent(api.pod)}`, api.base);
  let warned = false;
  const writer = progressWriter(async (cost) => {
    try {
      await patch(url, api, { metadata: { annotations: { [ANNOTATION]: String(cost) } } });
      warned = false;
    } catch (err) {
      // Once per run of failures: an API that refuses (RBAC missing) would otherwise log at every task.
      if (!warned) log.warn({ err: (err as Error).message, pod: api.pod }, `could not set the pod's ${ANNOTATION}; scale-in may remove a busy pod`);
      warned = true;
    }
  }, 2);
  return { set: (busy) => writer.report(busy ? BUSY_COST : IDLE_COST), flush: () => writer.flush() };
}

function patch(url: URL, api: PodApi, body: object): Promise<void> {
  const data = JSON.stringify(body);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PATCH',
        ca: api.ca,
        timeout: 10_000,
        headers: {
          Authorization: `Bearer ${api.token}`,
          'Content-Type': 'application/merge-patch+json',
          Accept: 'application/json',
          'Content-Length': Buffer.byteLength(data),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode === 200) return resolve();
          const text = Buffer.concat(chunks).toString('utf8');
          let message = text.slice(0, 200);
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // not the API's JSON Status
          }
          reject(new Error(`PATCH ${url.pathname}: ${res.statusCode} ${message}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`PATCH ${url.pathname}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(data);
  });
}
