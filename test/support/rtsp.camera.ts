import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'rtsp-server.js');

/** Whether the RTSP server package is installed (a devDependency; absent in a production install). */
export function rtspServerAvailable(): boolean {
  try {
    require.resolve('rtsp-streaming-server');
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A camera on the network: a real RTSP server (scripts/rtsp-server.js) with ffmpeg publishing a
 * clip to it in a loop at real time. Killing it takes the camera away as a power cut would;
 * starting it again brings it back at the same address.
 */
export class RtspCamera {
  private server?: ChildProcess;
  private publisher?: ChildProcess;
  private ports?: { publish: number; play: number; rtp: number };

  constructor(
    private readonly ffmpeg: string,
    private readonly clip: string,
    private readonly path = '/cam',
  ) {}

  get url(): string {
    if (!this.ports) throw new Error('RtspCamera: start it first');
    return `rtsp://127.0.0.1:${this.ports.play}${this.path}`;
  }

  async start(): Promise<void> {
    this.ports ??= {
      publish: await freePort(),
      play: await freePort(),
      // An even base for RTP/RTCP pairs, away from the ephemeral range.
      rtp: 20_000 + 2 * Math.floor(Math.random() * 5_000),
    };
    const server = spawn(
      process.execPath,
      [
        SCRIPT,
        '--publish-port',
        String(this.ports.publish),
        '--play-port',
        String(this.ports.play),
        '--rtp-ports',
        `${this.ports.rtp}:200`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.server = server;
    const lines = createInterface({ input: server.stdout! });
    const next = (want: (line: Record<string, unknown>) => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`RtspCamera: no ${what} in 20 s`)), 20_000);
        const onLine = (line: string) => {
          if (!want(JSON.parse(line) as Record<string, unknown>)) return;
          clearTimeout(timer);
          lines.off('line', onLine);
          server.off('exit', onExit);
          resolve();
        };
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          lines.off('line', onLine);
          reject(new Error(`RtspCamera: server exited (${code}) before ${what}`));
        };
        lines.on('line', onLine);
        server.once('exit', onExit);
      });
    await next((line) => line.ready === true, 'ready');
    const published = next((line) => line.published === this.path, 'published mount');
    this.publisher = spawn(
      this.ffmpeg,
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        this.clip,
        '-c',
        'copy',
        '-f',
        'rtsp',
        `rtsp://127.0.0.1:${this.ports.publish}${this.path}`,
      ],
      { stdio: 'ignore' },
    );
    await published;
  }

  /** Both processes die at once, without a goodbye to the readers. */
  async kill(): Promise<void> {
    await Promise.all([this.server, this.publisher].map((child) => killed(child)));
    this.server = undefined;
    this.publisher = undefined;
  }
}

function killed(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
