import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `host:port` or `[v6]:port` → host and port. */
export function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

/**
 * Listens on host:port (port 0: any free one) and resolves with the address bound, an IPv6
 * host in brackets: what the small HTTP servers of the API (console, evidence links) print and
 * tests connect to.
 */
export async function listenOn(server: Server, address: string): Promise<string> {
  const [host, port] = splitAddress(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address() as AddressInfo;
  return `${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
}
