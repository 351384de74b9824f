import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VigilMetrics } from './vigil.metrics';

/**
 * Answers GET /metrics from `metrics`; false when the request is for another path, so a
 * server with routes of its own (the services' health server) can go on.
 */
export function serveMetrics(
  metrics: VigilMetrics,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  if (request.url !== '/metrics') return false;
  void metrics.scrape().then(
    ({ contentType, body }) => {
      response.writeHead(200, { 'content-type': contentType });
      response.end(body);
    },
    (error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    },
  );
  return true;
}

/** GET /metrics for Prometheus, where no health server already serves it (`vigil serve`). */
export class MetricsHttpServer {
  private server?: Server;

  constructor(private readonly metrics: VigilMetrics) {}

  /** Listens on host:port (port 0: any free one); resolves with the address bound. */
  async listen(address: string): Promise<string> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(at + 1));
    this.server = createServer((request, response) => {
      if (request.method === 'GET' && serveMetrics(this.metrics, request, response)) return;
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found: GET /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, resolve);
    });
    const bound = this.server.address() as AddressInfo;
    return `${host}:${bound.port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
