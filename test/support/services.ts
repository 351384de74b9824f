import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kafkaBrokers } from './kafka';
import { fixturesDir, modelsDir } from './fixtures';
import { stopGracefully } from './child-process';

const ROOT = resolve(__dirname, '..', '..');
export const SERVICE_APPS = ['ingest', 'spectrogram', 'inference', 'fusion'] as const;
export type ServiceApp = (typeof SERVICE_APPS)[number];

export function requireBuiltServices(): void {
  for (const app of SERVICE_APPS) {
    if (!existsSync(join(ROOT, 'dist', 'apps', app, 'main.js'))) {
      throw new Error(
        `dist/apps/${app}/main.js is missing: run \`npm run build\` before these tests.`,
      );
    }
  }
}

/**
 * Health ports, from a slice of 10000-15999 of this jest worker's own: suites on the other worker
 * start services at the same time, and a random base shared by both once collided (EADDRINUSE).
 * The slice stays under the kernel's ephemeral ports and clear of the test brokers (19092 up) and
 * RTSP cameras (20000 up).
 */
const workerSlice = (Number(process.env.JEST_WORKER_ID ?? 1) - 1) % 2;
let nextPort = 10_000 + workerSlice * 3_000 + Math.floor(Math.random() * 2_500);

/** One microservice as its own OS process, as production runs it. */
export class ServiceProcess {
  readonly port = nextPort++;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly app: ServiceApp,
    readonly instanceId: string,
    private readonly env: Record<string, string> = {},
  ) {}

  start(): this {
    const logs = join(ROOT, '.cache', 'test-logs');
    mkdirSync(logs, { recursive: true });
    const log = createWriteStream(join(logs, `${this.instanceId}.log`), { flags: 'a' });
    this.child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', this.app, 'main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        VIGIL_MODELS_DIR: modelsDir(),
        VIGIL_MEDIA_ROOTS: fixturesDir(),
        VIGIL_HEALTH_PORT: String(this.port),
        VIGIL_INSTANCE_ID: this.instanceId,
        VIGIL_LOG_LEVEL: 'log',
        // History and evidence (fusion) stay out of the user's data folder; a restarted
        // instance of the same id finds its own again.
        VIGIL_DATA_DIR: join(tmpdir(), `vigil-services-${process.pid}`, this.instanceId),
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exited = new Promise((done) => this.child!.once('exit', () => done()));
    return this;
  }

  /** Polls /health/ready: connected to Kafka and consuming. */
  async ready(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) {
        throw new Error(
          `${this.instanceId} exited with ${this.child.exitCode}; see .cache/test-logs/${this.instanceId}.log`,
        );
      }
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/health/ready`);
        if (response.ok) return this;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `${this.instanceId} not ready after ${timeoutMs} ms; see .cache/test-logs/${this.instanceId}.log`,
    );
  }

  /** A crash: no shutdown hooks, no commit, no leaving the group. */
  async kill9(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** A graceful stop, as Kubernetes does it. */
  async stop(): Promise<void> {
    await stopGracefully(this.child, this.exited);
  }
}
