import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { extname, join } from 'node:path';
import { Logger } from '@nestjs/common';
import { ApiError, ApiErrorCode } from './api.error';
import { type ApiRole, roleAllows } from './api-role';
import type { ApiPrincipal, ApiTokenRegistry } from './api-token.registry';
import { actionBody, incidentQuery, signInBody, startStreamBody } from './console-request.parsers';
import { type ConsoleSession, ConsoleSessionStore, csrfMatches } from './console-session.store';
import type { ConsoleChange, ConsoleService } from './console.service';
import { HTTP_STATUS, toApiError } from './grpc-status.mapper';
import { listenOn } from './http.listener';
import { streamId, streamSpec } from './request.parsers';

export const SESSION_COOKIE = 'vigil_session';
export const CSRF_HEADER = 'x-vigil-csrf';
const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
/** A console whose socket backs up this far is dropped; it reconnects and catches up. */
const MAX_SSE_BACKLOG_BYTES = 1024 * 1024;
const SSE_HEARTBEAT_MS = 20_000;
/** Open live feeds at once: each costs a socket and a listener, so they are bounded. */
const MAX_LIVE = 256;
const ASSET_NAME = /^[A-Za-z0-9._-]{1,100}$/;
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};
/** Everything from this origin, nothing inline and nothing from elsewhere (no CDN). */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; " +
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
    "frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface ConsoleHttpOptions {
  /** The built front end (index.html, app.js, app.css); undefined: the API only. */
  assetsDir?: string;
  maxBodyBytes?: number;
  /** Adds `Secure` to the session cookie: set it when the console is reached over HTTPS. */
  secureCookie?: boolean;
  /**
   * The process's Prometheus metrics, also served on GET /metrics here: the one port an
   * integrator curls on `vigil serve` (Prometheus scrapes without a session, as on the services'
   * health port).
   */
  metrics?: { scrape(): Promise<{ contentType: string; body: string }> };
}

interface Caller {
  principal: ApiPrincipal;
  /** How the caller proved who it is; cookie and open callers must pass the CSRF checks. */
  via: 'bearer' | 'cookie' | 'open';
  session?: ConsoleSession;
}

interface Route {
  method: string;
  pattern: RegExp;
  /** The least role; undefined for the sign-in routes, which authenticate themselves. */
  role?: ApiRole;
  handle(context: RequestContext, params: string[]): Promise<void> | void;
}

interface RequestContext {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  caller?: Caller;
}

/**
 * The operator console over HTTP: the built front end, and a JSON API beside it with the same
 * tokens and roles as gRPC. A browser signs in once with its token and gets an HttpOnly,
 * SameSite=Strict session cookie; scripts may send `Authorization: Bearer` instead. Writes
 * from a cookie session need the session's CSRF token in `x-vigil-csrf`, a JSON body and, when
 * the browser names one, this origin. Live changes go out as server-sent events.
 */
export class ConsoleHttpServer {
  private readonly logger = new Logger('ConsoleHttp');
  private readonly sessions: ConsoleSessionStore;
  private readonly routes: Route[];
  private readonly assets = new Map<string, Buffer>();
  private readonly live = new Set<ServerResponse>();
  private server?: Server;

  constructor(
    private readonly console: ConsoleService,
    private readonly tokens: ApiTokenRegistry,
    private readonly options: ConsoleHttpOptions = {},
    sessions?: ConsoleSessionStore,
  ) {
    this.sessions = sessions ?? new ConsoleSessionStore();
    this.routes = this.buildRoutes();
  }

  async listen(address: string): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    return listenOn(this.server, address);
  }

  async close(): Promise<void> {
    this.console.close();
    if (!this.server) return;
    for (const response of this.live) response.end();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  private metricsRoute(metrics: NonNullable<ConsoleHttpOptions['metrics']>): Route {
    return {
      method: 'GET',
      pattern: /^\/metrics$/,
      handle: async ({ response }) => {
        const { contentType, body } = await metrics.scrape();
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(body);
      },
    };
  }

  private buildRoutes(): Route[] {
    const c = this.console;
    return [
      { method: 'GET', pattern: /^\/$/, handle: (ctx) => this.asset(ctx, 'index.html') },
      ...(this.options.metrics ? [this.metricsRoute(this.options.metrics)] : []),
      {
        method: 'GET',
        pattern: /^\/assets\/([^/]+)$/,
        handle: (ctx, [name]) => this.asset(ctx, name!),
      },
      { method: 'POST', pattern: /^\/api\/session$/, handle: (ctx) => this.signIn(ctx) },
      {
        method: 'GET',
        pattern: /^\/api\/session$/,
        role: 'viewer',
        handle: (ctx) =>
          json(ctx.response, 200, {
            name: ctx.caller!.principal.name,
            role: ctx.caller!.principal.role,
            csrf: ctx.caller!.session?.csrf ?? '',
            canControlStreams: c.canControlStreams,
          }),
      },
      {
        method: 'DELETE',
        pattern: /^\/api\/session$/,
        role: 'viewer',
        handle: (ctx) => {
          this.sessions.delete(cookieOf(ctx.request, SESSION_COOKIE));
          ctx.response.setHeader('set-cookie', this.cookie('', 0));
          ctx.response.writeHead(204).end();
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/incidents$/,
        role: 'viewer',
        handle: async (ctx) =>
          json(ctx.response, 200, await c.listIncidents(incidentQuery(ctx.url.searchParams))),
      },
      {
        method: 'GET',
        pattern: /^\/api\/incidents\/([^/]+)$/,
        role: 'viewer',
        handle: async (ctx, [id]) => json(ctx.response, 200, await c.getIncident(id!)),
      },
      {
        method: 'GET',
        pattern: /^\/api\/incidents\/([^/]+)\/evidence\/([^/]+)$/,
        role: 'viewer',
        handle: async (ctx, [id, name]) => sendBytes(ctx, await c.evidence(id!, name!)),
      },
      {
        method: 'POST',
        pattern: /^\/api\/incidents\/([^/]+)\/actions$/,
        role: 'operator',
        handle: async (ctx, [id]) => {
          const { action, note, suppressMinutes } = actionBody(await this.body(ctx));
          json(
            ctx.response,
            201,
            await c.act(id!, action, note, ctx.caller!.principal, suppressMinutes),
          );
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/suppressions$/,
        role: 'viewer',
        handle: async (ctx) =>
          json(ctx.response, 200, { suppressions: await c.activeSuppressions() }),
      },
      {
        method: 'DELETE',
        pattern: /^\/api\/suppressions\/([^/]+)$/,
        role: 'operator',
        handle: async (ctx, [id]) => {
          if (!/^\d{1,15}$/.test(id!)) throw ApiError.invalid('id', 'must be a suppression id');
          json(ctx.response, 200, await c.liftSuppression(Number(id), ctx.caller!.principal));
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/sites$/,
        role: 'viewer',
        handle: (ctx) => json(ctx.response, 200, { sites: c.listSites() }),
      },
      {
        method: 'GET',
        pattern: /^\/api\/streams$/,
        role: 'viewer',
        handle: (ctx) => json(ctx.response, 200, { streams: c.listStreams() }),
      },
      {
        method: 'POST',
        pattern: /^\/api\/streams$/,
        role: 'operator',
        handle: async (ctx) => {
          const request = startStreamBody(await this.body(ctx));
          const spec = streamSpec(request, c.streamCapabilities());
          json(ctx.response, 201, await c.startStream(spec));
        },
      },
      {
        method: 'POST',
        pattern: /^\/api\/streams\/([^/]+)\/stop$/,
        role: 'operator',
        handle: async (ctx, [id]) => {
          await this.body(ctx); // empty or {}: nothing to read, but the limits still apply
          json(ctx.response, 200, await c.stopStream(streamId(id, 'stream_id')));
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/live$/,
        role: 'viewer',
        handle: (ctx) => this.openLive(ctx),
      },
    ];
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    try {
      const url = new URL(request.url ?? '/', 'http://console');
      const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
      let found: { route: Route; params: string[] } | undefined;
      let pathKnown = false;
      for (const route of this.routes) {
        const match = route.pattern.exec(url.pathname);
        if (!match) continue;
        pathKnown = true;
        if (route.method === method) {
          found = { route, params: match.slice(1).map(decoded) };
          break;
        }
      }
      if (!found) {
        throw new ApiError(
          ApiErrorCode.NOT_FOUND,
          pathKnown
            ? `${request.method} is not served on ${url.pathname}`
            : `no such page or API route: ${url.pathname}`,
        );
      }
      const context: RequestContext = { request, response, url };
      if (url.pathname.startsWith('/api/')) response.setHeader('cache-control', 'no-store');
      if (found.route.role) {
        context.caller = this.authenticate(request);
        if (method !== 'GET') this.checkCsrf(request, context.caller);
        if (!roleAllows(context.caller.principal.role, found.route.role)) {
          throw new ApiError(
            ApiErrorCode.PERMISSION_DENIED,
            `role ${context.caller.principal.role} may not do this (needs ${found.route.role})`,
          );
        }
      }
      await found.route.handle(context, found.params);
    } catch (error) {
      this.fail(response, error);
    }
  }

  private fail(response: ServerResponse, error: unknown): void {
    const api = toApiError(error);
    if (api.code === ApiErrorCode.INTERNAL) {
      this.logger.error((error as Error)?.stack ?? String(error));
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (api.code === ApiErrorCode.UNAUTHENTICATED) {
      response.setHeader('www-authenticate', 'Bearer realm="vigil"');
    }
    json(response, HTTP_STATUS[api.code], {
      error: { code: api.code, message: api.message, ...(api.field ? { field: api.field } : {}) },
    });
  }

  private authenticate(request: IncomingMessage): Caller {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      if (this.tokens.open) return { principal: OPEN_PRINCIPAL, via: 'open' };
      return { principal: this.tokens.authenticate(authorization), via: 'bearer' };
    }
    const session = this.sessions.get(cookieOf(request, SESSION_COOKIE));
    if (session) return { principal: session.principal, via: 'cookie', session };
    if (this.tokens.open) return { principal: OPEN_PRINCIPAL, via: 'open' };
    throw new ApiError(ApiErrorCode.UNAUTHENTICATED, 'sign in with an API token');
  }

  /**
   * A write a browser made on its own (a form or script on another site) carries the cookie
   * but cannot read the CSRF token, set a custom header without a preflight we never answer,
   * or claim this origin.
   */
  private checkCsrf(request: IncomingMessage, caller: Caller): void {
    if (caller.via === 'bearer') return;
    this.checkOrigin(request);
    const given = header(request, CSRF_HEADER);
    const ok = caller.session ? csrfMatches(caller.session, given) : given !== undefined;
    if (!ok) {
      throw new ApiError(
        ApiErrorCode.PERMISSION_DENIED,
        `a write needs the session's CSRF token in ${CSRF_HEADER}`,
      );
    }
  }

  private checkOrigin(request: IncomingMessage): void {
    const origin = header(request, 'origin');
    if (origin === undefined) return;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== request.headers.host) {
      throw new ApiError(ApiErrorCode.PERMISSION_DENIED, `requests from ${origin} are refused`);
    }
  }

  private async signIn(ctx: RequestContext): Promise<void> {
    this.checkOrigin(ctx.request);
    const token = signInBody(await this.body(ctx));
    const principal = this.tokens.open
      ? OPEN_PRINCIPAL
      : this.tokens.authenticate(`Bearer ${token}`);
    const { id, session } = this.sessions.create(principal);
    ctx.response.setHeader(
      'set-cookie',
      this.cookie(id, Math.floor((session.expiresAt - Date.now()) / 1000)),
    );
    json(ctx.response, 200, {
      name: principal.name,
      role: principal.role,
      csrf: session.csrf,
      canControlStreams: this.console.canControlStreams,
    });
  }

  private cookie(value: string, maxAgeSec: number): string {
    return (
      `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}` +
      (this.options.secureCookie ? '; Secure' : '')
    );
  }

  /** A JSON body within the limit; an empty body reads as `{}`. */
  private async body(ctx: RequestContext): Promise<unknown> {
    const { request } = ctx;
    const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      throw new ApiError(ApiErrorCode.TOO_LARGE, `the body is over ${limit} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        request.resume();
        throw new ApiError(ApiErrorCode.TOO_LARGE, `the body is over ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    if (size === 0) return {};
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw ApiError.invalid('content-type', 'must be application/json');
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw ApiError.invalid('body', 'is not valid JSON');
    }
  }

  private async asset(ctx: RequestContext, name: string): Promise<void> {
    const dir = this.options.assetsDir;
    if (!ASSET_NAME.test(name) || name.startsWith('.')) throw ApiError.notFound(`asset ${name}`);
    if (!dir) {
      throw new ApiError(
        ApiErrorCode.NOT_FOUND,
        'the console front end is not built (npm run build); the API is served under /api',
      );
    }
    let bytes = this.assets.get(name);
    if (!bytes) {
      try {
        bytes = await readFile(join(dir, name));
      } catch {
        throw ApiError.notFound(`asset ${name}`);
      }
      this.assets.set(name, bytes);
    }
    ctx.response.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
      'content-length': bytes.length,
      'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=300',
    });
    ctx.response.end(ctx.request.method === 'HEAD' ? undefined : bytes);
  }

  /**
   * Server-sent events: every new incident version and operator action, each with an id the
   * browser sends back as Last-Event-ID on reconnect, so a dropped connection misses nothing.
   */
  private async openLive(ctx: RequestContext): Promise<void> {
    const { request, response } = ctx;
    if (this.live.size >= MAX_LIVE) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `${MAX_LIVE} consoles are already following live; try again later`,
      );
    }
    const from = parseCursor(
      header(request, 'last-event-id') ?? ctx.url.searchParams.get('cursor') ?? undefined,
    );
    // Heard from before the history is read, so nothing falls between the read and the
    // subscription; what the read already covered is skipped by its seq below.
    const heard: ConsoleChange[] = [];
    let deliver: (change: ConsoleChange) => void = (change) => void heard.push(change);
    const unsubscribe = this.console.onChange((change) => deliver(change));
    let position: { eventSeq: number; actionSeq: number };
    let backlog: ConsoleChange[] | undefined;
    try {
      position = from ?? cursorParts(await this.console.cursor());
      backlog = from ? await this.console.changesAfter(from) : [];
    } catch (error) {
      unsubscribe();
      throw error;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(': vigil console live feed\nretry: 2000\n\n');
    const send = (change: ConsoleChange) => {
      if (change.type === 'incident') {
        position.eventSeq = Math.max(position.eventSeq, change.eventSeq);
      } else if (change.type === 'action') {
        position.actionSeq = Math.max(position.actionSeq, change.actionSeq);
      }
      const id = `${position.eventSeq}-${position.actionSeq}`;
      response.write(`id: ${id}\nevent: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`);
      if (response.writableLength > MAX_SSE_BACKLOG_BYTES) response.end();
    };
    if (backlog === undefined) {
      response.write(`event: reset\ndata: {}\n\n`);
      Object.assign(position, cursorParts(await this.console.cursor()));
    } else {
      for (const change of backlog) send(change);
    }
    // An id from the start, so even a console that heard nothing yet resumes from here.
    response.write(`id: ${position.eventSeq}-${position.actionSeq}\nevent: ready\ndata: {}\n\n`);
    for (const change of heard.splice(0)) {
      const seen =
        (change.type === 'incident' && change.eventSeq <= position.eventSeq) ||
        (change.type === 'action' && change.actionSeq <= position.actionSeq);
      if (!seen) send(change);
    }
    deliver = send;
    const heartbeat = setInterval(() => response.write(': ping\n\n'), SSE_HEARTBEAT_MS);
    heartbeat.unref();
    this.live.add(response);
    const done = () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.live.delete(response);
    };
    response.once('close', done);
  }
}

const OPEN_PRINCIPAL: ApiPrincipal = { name: 'anonymous', role: 'operator' };

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** Evidence bytes, with single byte ranges so an audio element can seek. */
function sendBytes(
  ctx: RequestContext,
  { bytes, contentType }: { bytes: Uint8Array; contentType: string },
): void {
  const { request, response } = ctx;
  const headers = {
    'content-type': contentType,
    'accept-ranges': 'bytes',
    'cache-control': 'private, max-age=3600',
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(header(request, 'range') ?? '');
  if (range && (range[1] || range[2])) {
    const total = bytes.length;
    const start = range[1] ? Number(range[1]) : Math.max(0, total - Number(range[2]));
    const end = range[1] && range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
    if (start > end || start >= total) {
      response.writeHead(416, { 'content-range': `bytes */${total}` }).end();
      return;
    }
    response.writeHead(206, {
      ...headers,
      'content-range': `bytes ${start}-${end}/${total}`,
      'content-length': end - start + 1,
    });
    response.end(request.method === 'HEAD' ? undefined : bytes.subarray(start, end + 1));
    return;
  }
  response.writeHead(200, { ...headers, 'content-length': bytes.length });
  response.end(request.method === 'HEAD' ? undefined : bytes);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function parseCursor(
  value: string | undefined,
): { eventSeq: number; actionSeq: number } | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}-\d{1,15}$/.test(value)) {
    throw ApiError.invalid('cursor', 'must be <event seq>-<action seq> as the console sent it');
  }
  return cursorParts(value);
}

function cursorParts(value: string): { eventSeq: number; actionSeq: number } {
  const [eventSeq, actionSeq] = value.split('-').map(Number);
  return { eventSeq: eventSeq!, actionSeq: actionSeq! };
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw ApiError.invalid('path', 'is not valid percent-encoding');
  }
}
