// Which address a request comes from, for brute-force limits and logs: the socket's, or X-Forwarded-For
// as written by a proxy we trust (anyone else can write that header, so it is ignored from them).
import { BlockList, isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { requestHeader } from './node-headers.js';

/** IPv4 clients of a dual-stack socket show as ::ffff:a.b.c.d; count them as a.b.c.d. */
const plain = (address: string) => address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');

/**
 * An X-Forwarded-For entry without the port some proxies add (`203.0.113.5:41234`, `[2001:db8::1]:443`):
 * every source port would otherwise be a client of its own to the brute-force limits. A bare IPv6
 * address keeps its colons.
 */
const withoutPort = (hop: string) => /^\[([^\]]*)\](?::\d*)?$/.exec(hop)?.[1] ?? hop.replace(/^(\d+\.\d+\.\d+\.\d+):\d*$/, '$1');

function trustList(proxies: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of proxies) {
    const [address, bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** Returns a function giving a request's client address; `trustedProxies` are IPs or CIDR ranges. */
export function clientAddress(trustedProxies: readonly string[]): (c: Context) => string {
  const trusted = trustList(trustedProxies);
  const isTrusted = (address: string) => {
    const type = isIP(address);
    return type !== 0 && trusted.check(address, type === 6 ? 'ipv6' : 'ipv4');
  };

  return (c) => {
    let socket: string | undefined;
    try {
      socket = getConnInfo(c).remote.address;
    } catch {
      // No socket: a request made in-process, as tests do.
    }
    if (!socket) return 'unknown';
    let address = plain(socket);
    if (trustedProxies.length === 0 || !isTrusted(address)) return address;
    // Each proxy appends the address it saw; the first one from the right we do not trust is the client.
    const hops = (requestHeader(c, 'X-Forwarded-For') ?? '').split(',').map((hop) => plain(withoutPort(hop.trim()))).filter(Boolean);
    for (let i = hops.length - 1; i >= 0; i--) {
      address = hops[i].slice(0, 64);
      if (!isTrusted(address)) break;
    }
    return address;
  };
}
