import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../src/webhook.signer';

export interface ReceivedRequest {
  /** 0, 1, 2… in arrival order at this receiver. */
  index: number;
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  eventId: string;
  attempt: number;
  /** verifyWebhookSignature with the receiver's secret said yes. */
  verified: boolean;
  /** What the receiver answered; undefined while it holds the request. */
  status?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer after this long (real time). */
  delayMs?: number;
  /** Never answer: keep the request open until the client gives up. */
  hang?: boolean;
}

/**
 * A real HTTP receiver on 127.0.0.1 that checks every signature the way the README tells
 * integrators to, records what it got, and answers as `reply` says.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly secret: string,
    private readonly reply: (request: ReceivedRequest) => Reply,
    private readonly onAccepted: (request: ReceivedRequest) => void,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(
    secret: string,
    reply: (request: ReceivedRequest) => Reply = () => ({ status: 200 }),
    onAccepted: (request: ReceivedRequest) => void = () => undefined,
  ): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret, reply, onAccepted);
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/vigil`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Requests answered 2xx. */
  get accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status !== undefined && r.status < 300);
  }

  /** TCP connections open right now. */
  get openConnections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const request: ReceivedRequest = {
      index: this.requests.length,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      eventId: header('x-vigil-event-id') ?? '',
      attempt: Number(header('x-vigil-delivery-attempt')),
      verified: verifyWebhookSignature(
        this.secret,
        header('x-vigil-timestamp'),
        body,
        header('x-vigil-signature'),
      ),
    };
    this.requests.push(request);
    // a forged request is refused whatever the script says
    const reply = request.verified ? this.reply(request) : { status: 401 };
    if (reply.hang) return;
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    request.status = reply.status;
    if (reply.status < 300) this.onAccepted(request);
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body ?? '');
  }
}

/** Accepts TCP connections and never says a word: the timeout path, for real. */
export class SilentServer {
  /** Connections accepted so far. */
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: NetServer;

  private constructor() {
    this.server = createNetServer((socket) => {
      this.connections += 1;
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      // reads (and ignores) the request, so it sees the client hang up
      socket.resume();
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  static async start(): Promise<SilentServer> {
    const silent = new SilentServer();
    await new Promise<void>((resolve) => silent.server.listen(0, '127.0.0.1', resolve));
    return silent;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
