// Durable writes: WAIT until replicas hold what this connection wrote, so a failover cannot lose it.
import type { Cluster, Redis } from './bullmq.js';
import { hashTag } from './url.js';

/** Fewer replicas than asked acknowledged a write in time; the write may or may not survive a failover. */
export class NotDurableError extends Error {
  override name = 'NotDurableError';
}

/** CRC16/XMODEM, the checksum Redis Cluster maps keys to its 16384 slots with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of `key`: of its hash tag when it has one, as Redis computes it. */
export function keySlot(key: string): number {
  return crc16(new TextEncoder().encode(hashTag(key) ?? key)) % 16384;
}

/**
 * The connection to the primary that holds `key`. WAIT counts the writes of the connection it is sent on,
 * so on a cluster it must go to the very connection that wrote the key, which ioredis keeps per node.
 */
function nodeOf(cluster: Cluster, key: string): Redis {
  const address = cluster.slots[keySlot(key)]?.[0];
  const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === address);
  if (!node) throw new NotDurableError(`no connection to the primary of slot ${keySlot(key)}`);
  return node;
}

/**
 * Waits until `replicas` replicas have acknowledged every write this connection made so far (among them
 * the write of `key`), for at most `timeoutMs`; throws NotDurableError when fewer did. While it waits,
 * the connection serves no other command: Redis answers a connection's commands in order.
 */
export async function waitForReplicas(redis: Redis, key: string, replicas: number, timeoutMs: number): Promise<void> {
  const cluster = (redis as unknown as { isCluster?: boolean }).isCluster ? (redis as unknown as Cluster) : undefined;
  const node = cluster ? nodeOf(cluster, key) : redis;
  const acknowledged = await node.wait(replicas, Math.ceil(timeoutMs));
  if (acknowledged < replicas) {
    throw new NotDurableError(`${acknowledged} of ${replicas} replicas acknowledged the write within ${timeoutMs} ms`);
  }
}
