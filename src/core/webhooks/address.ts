// Where a webhook may go: https to public addresses only, checked after DNS resolution at submit and again
// when each delivery connects, unless private networks are allowed (development, in-cluster receivers).
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, BlockList, type LookupFunction } from 'node:net';

/** Longer URLs are refused: a receiver's address needs no more, and it is stored with every task. */
export const MAX_URL_LENGTH = 2048;
/** Milliseconds a submit waits for DNS to resolve the webhook's host. */
const DNS_TIMEOUT_MS = 5000;

/** A webhook URL that may not be used, and why (said to the client in a 400). */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

export interface AddressPolicy {
  /** Allows http, and loopback, private, link-local and metadata addresses. */
  allowPrivateNetworks: boolean;
}

/**
 * Addresses no webhook may reach: this host, private and shared networks, link-local (where the clouds'
 * metadata services answer, 169.254.169.254 and fd00:ec2::254 among them), and the special-purpose ranges
 * of RFC 6890 that are no destination on the internet. IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are
 * checked as the IPv4 address they carry: net.BlockList does so.
 */
const BLOCKED: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'this network'],
  ['10.0.0.0', 8, 'ipv4', 'a private address'],
  ['100.64.0.0', 10, 'ipv4', 'a shared (carrier-grade NAT) address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (cloud metadata services answer there)'],
  ['172.16.0.0', 12, 'ipv4', 'a private address'],
  ['192.0.0.0', 24, 'ipv4', 'a special-purpose address'],
  ['192.0.2.0', 24, 'ipv4', 'a documentation address'],
  ['192.88.99.0', 24, 'ipv4', 'a relay address'],
  ['192.168.0.0', 16, 'ipv4', 'a private address'],
  ['198.18.0.0', 15, 'ipv4', 'a benchmarking address'],
  ['198.51.100.0', 24, 'ipv4', 'a documentation address'],
  ['203.0.113.0', 24, 'ipv4', 'a documentation address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  // Azure's platform endpoint (wireserver), a metadata service on a public address.
  ['168.63.129.16', 32, 'ipv4', 'a cloud metadata address'],
  ['::', 128, 'ipv6', 'the unspecified address'],
  ['::1', 128, 'ipv6', 'a loopback address'],
  // The deprecated IPv4-compatible form (::a.b.c.d).
  ['::', 96, 'ipv6', 'a special-purpose address'],
  ['64:ff9b:1::', 48, 'ipv6', 'a local NAT64 address'],
  ['100::', 64, 'ipv6', 'a discard address'],
  ['2001::', 23, 'ipv6', 'a special-purpose address'],
  ['2001:db8::', 32, 'ipv6', 'a documentation address'],
  ['fc00::', 7, 'ipv6', 'a private (unique local) address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['fec0::', 10, 'ipv6', 'a site-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];

const lists = BLOCKED.map(([address, prefix, family, why]) => {
  const list = new BlockList();
  list.addSubnet(address, prefix, family);
  return { list, why };
});

/** The 32 bits at the end of an IPv6 address, as dotted IPv4. */
function lastIPv4(address: string): string | undefined {
  const groups = expandIPv6(address);
  if (!groups) return undefined;
  const [high, low] = groups.slice(6);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** An IPv6 address as its eight 16-bit groups. */
function expandIPv6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string?];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(zeros).fill('0'), ...right].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** Why no webhook may go to `address` (an IP address), or undefined if one may. */
export function blockedAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { list, why } of lists) if (list.check(address, type)) return why;
  // NAT64's well-known prefix carries an IPv4 address that the network's NAT64 gateway reaches for us.
  if (type === 'ipv6' && expandIPv6(address)?.slice(0, 6).join(':') === '100:65435:0:0:0:0') {
    const inner = lastIPv4(address);
    return inner === undefined ? undefined : blockedAddress(inner);
  }
  return undefined;
}

function refuse(host: string, address: string, why: string): WebhookUrlError {
  return new WebhookUrlError(host === address ? `${address} is ${why}` : `${host} resolves to ${address}, ${why}`);
}

/** All the addresses `host` resolves to, as a connection would find them. */
function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new WebhookUrlError(`${host} did not resolve within ${DNS_TIMEOUT_MS / 1000} s`)), DNS_TIMEOUT_MS);
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err) reject(new WebhookUrlError(`${host} does not resolve (${err.code ?? err.message})`));
      else resolve(addresses);
    });
  });
}

/** The URL's host without the brackets of an IPv6 literal. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * The URL a task's webhook may be sent to, or a WebhookUrlError saying why not: an absolute https URL (or
 * http with private networks allowed), without credentials, whose host is, or resolves only to, public
 * addresses. The host is resolved again when a delivery connects (see `guardedLookup`): what it resolved to
 * here may have changed by then, by chance or by design (DNS rebinding).
 */
export async function checkWebhookUrl(text: string, policy: AddressPolicy): Promise<URL> {
  if (text.length === 0) throw new WebhookUrlError('empty');
  if (text.length > MAX_URL_LENGTH) throw new WebhookUrlError(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError('not an absolute URL');
  }
  const schemes = policy.allowPrivateNetworks ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    throw new WebhookUrlError(policy.allowPrivateNetworks ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (url.username || url.password) throw new WebhookUrlError('must not carry a user name or password');
  if (!policy.allowPrivateNetworks) await checkHost(hostOf(url));
  return url;
}

/** Refuses a host that is, or resolves to, an address no webhook may reach. */
async function checkHost(host: string): Promise<void> {
  const addresses = isIP(host) ? [{ address: host }] : await resolveAll(host);
  if (addresses.length === 0) throw new WebhookUrlError(`${host} does not resolve`);
  for (const { address } of addresses) {
    const why = blockedAddress(address);
    if (why) throw refuse(host, address, why);
  }
}

/**
 * The `lookup` of a delivery's connection: it resolves as Node would, and fails the connection when any
 * address is one no webhook may reach, so the address connected to is the address checked. An IP literal
 * is never looked up: `checkHost` checks it before the request.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  const all: LookupAllOptions = { ...options, all: true };
  dnsLookup(hostname, all, (err, addresses) => {
    if (err) return callback(err, '', 0);
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '', 0);
    const bad = addresses.map((a) => ({ ...a, why: blockedAddress(a.address) })).find((a) => a.why);
    if (bad) return callback(Object.assign(refuse(hostname, bad.address, bad.why!), { code: 'EWEBHOOKREFUSED' }), '', 0);
    if (options.all) return callback(null, addresses);
    const [first] = addresses;
    callback(null, first.address, first.family);
  });
};

/** Checks a delivery's URL again before it is sent: the IP literal `guardedLookup` would not see, or the scheme. */
export async function checkBeforeSending(url: URL, policy: AddressPolicy): Promise<void> {
  if (policy.allowPrivateNetworks) return;
  if (url.protocol !== 'https:') throw new WebhookUrlError('must be an https URL');
  const host = hostOf(url);
  if (isIP(host)) await checkHost(host);
}
