import { Inject, Injectable, Logger, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceConfig } from '@app/config';
import { VigilMetrics, serveMetrics } from '@app/metrics';
import { SERVICE_CONFIG } from './service.tokens';

/**
 * /health/live answers while the process runs; /health/ready once the service is connected
 * to Kafka and consuming, and no longer while it shuts down (so Kubernetes stops routing
 * before in-flight work is finished); /metrics for Prometheus on the same port.
 */
@Injectable()
export class HealthServer implements OnApplicationShutdown {
  private readonly logger = new Logger(HealthServer.name);
  private server?: Server;
  private ready = false;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Optional() private readonly metrics?: VigilMetrics,
  ) {}

  async listen(): Promise<number | undefined> {
    if (this.config.healthPort === 0) return undefined;
    this.server = createServer((req, res) => {
      if (this.metrics && serveMetrics(this.metrics, req, res)) return;
      const ok = req.url === '/health/live' || (req.url === '/health/ready' && this.ready);
      const known = req.url === '/health/live' || req.url === '/health/ready';
      res.writeHead(known ? (ok ? 200 : 503) : 404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: ok ? 'ok' : known ? 'unavailable' : 'not found',
          instance: this.config.instanceId,
        }),
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.healthPort, resolve);
    });
    const port = (this.server.address() as AddressInfo).port;
    this.logger.log(`health on :${port}/health/{live,ready}`);
    return port;
  }

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  async onApplicationShutdown(): Promise<void> {
    this.ready = false;
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
