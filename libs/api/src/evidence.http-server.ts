import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { Logger } from '@nestjs/common';
import type { EvidenceStore } from '@app/evidence';
import { ApiError, ApiErrorCode } from './api.error';
import type { EvidenceLinkSigner } from './evidence-link.signer';
import { HTTP_STATUS, toApiError } from './grpc-status.mapper';
import { listenOn } from './http.listener';

const ROUTE = /^\/evidence\/([^/]+)\/([^/]+)$/;

/**
 * Serves the evidence links that webhook bodies carry: GET /evidence/<event>/<name> with a
 * valid signature. Nothing else is served, and errors say only what the caller may know.
 */
export class EvidenceHttpServer {
  private readonly logger = new Logger('EvidenceHttp');
  private server?: Server;

  constructor(
    private readonly store: Pick<EvidenceStore, 'get'>,
    private readonly links: EvidenceLinkSigner,
  ) {}

  async listen(address: string): Promise<string> {
    this.server = createServer((request, response) => void this.handle(request, response));
    return listenOn(this.server, address);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        throw new ApiError(ApiErrorCode.INVALID_ARGUMENT, 'only GET is served');
      }
      const url = new URL(request.url ?? '/', 'http://evidence');
      const match = ROUTE.exec(url.pathname);
      if (!match) throw new ApiError(ApiErrorCode.NOT_FOUND, 'not found');
      const [eventId, name] = [decoded(match[1]!), decoded(match[2]!)];
      this.links.verify(
        eventId,
        name,
        url.searchParams.get('expires'),
        url.searchParams.get('signature'),
      );
      const { bytes, contentType } = await this.store.get(`${eventId}/${name}`);
      response.writeHead(200, {
        'content-type': contentType,
        'content-length': bytes.byteLength,
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
      });
      response.end(request.method === 'HEAD' ? undefined : bytes);
    } catch (error) {
      const api = toApiError(error);
      if (api.code === ApiErrorCode.INTERNAL)
        this.logger.error((error as Error).stack ?? String(error));
      response.writeHead(HTTP_STATUS[api.code], { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`${api.message}\n`);
    }
  }
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ApiError(ApiErrorCode.INVALID_ARGUMENT, 'the link is malformed');
  }
}
