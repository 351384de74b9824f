import { readFileSync } from 'node:fs';
import {
  type Client,
  Metadata,
  type ServiceError,
  credentials,
  loadPackageDefinition,
  status,
} from '@grpc/grpc-js';
import { apiPackageDefinition } from '@app/api';

/** WebhookService's messages as @grpc/proto-loader hands them over (PROTO_LOADER_OPTIONS). */
export interface DeadLetterMessage {
  deliveryId: string;
  subscriptionId: string;
  url: string;
  eventId: string;
  attempts: number;
  reason: string;
  lastStatus?: number | null;
  queuedAtMs: number;
  failedAtMs: number;
  published: boolean;
}

export interface SubscriptionCountsMessage {
  subscriptionId: string;
  pending: number;
  dead: number;
  configured: boolean;
}

export interface ListDeadLettersResponse {
  deadLetters: DeadLetterMessage[];
  nextPageToken: string;
  subscriptions: SubscriptionCountsMessage[];
}

export interface WebhookApi {
  listDeadLetters(request: {
    subscriptionId?: string;
    pageSize?: number;
    pageToken?: string;
  }): Promise<ListDeadLettersResponse>;
  replayDeadLetters(request: {
    deliveryIds?: string[];
    all?: boolean;
    subscriptionId?: string;
  }): Promise<{ replayed: number }>;
  close(): void;
}

/** A call the server refused or could not answer, with its gRPC status. */
export class ApiCallError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

export interface WebhookApiOptions {
  /** host:port of `vigil serve` or the fusion service. */
  address: string;
  /** Bearer token; none for an open API. */
  token?: string;
  /** CA bundle of the server's certificate: TLS instead of plaintext. */
  caFile?: string;
  /** Per call. */
  timeoutMs?: number;
}

type Unary = (
  request: object,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: unknown) => void,
) => void;

/**
 * vigil.v1.WebhookService over gRPC, for the CLI: the same .proto files and loader options as
 * every other client, so the CLI sees what any client sees.
 */
export class GrpcWebhookApi implements WebhookApi {
  private readonly client: Client & Record<string, Unary>;
  private readonly metadata = new Metadata();
  private readonly timeoutMs: number;

  constructor(options: WebhookApiOptions) {
    const loaded = loadPackageDefinition(apiPackageDefinition(['webhooks'])) as unknown as {
      vigil: { v1: { WebhookService: new (address: string, creds: unknown) => Client } };
    };
    const creds = options.caFile
      ? credentials.createSsl(readFileSync(options.caFile))
      : credentials.createInsecure();
    this.client = new loaded.vigil.v1.WebhookService(options.address, creds) as Client &
      Record<string, Unary>;
    if (options.token) this.metadata.set('authorization', `Bearer ${options.token}`);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  listDeadLetters(request: Parameters<WebhookApi['listDeadLetters']>[0]) {
    return this.call<ListDeadLettersResponse>('ListDeadLetters', request);
  }

  replayDeadLetters(request: Parameters<WebhookApi['replayDeadLetters']>[0]) {
    return this.call<{ replayed: number }>('ReplayDeadLetters', request);
  }

  close(): void {
    this.client.close();
  }

  private call<T>(method: string, request: object): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method]!(
        request,
        this.metadata,
        { deadline: Date.now() + this.timeoutMs },
        (error, response) =>
          error
            ? reject(
                new ApiCallError(
                  error.code,
                  `${method}: ${status[error.code] ?? error.code}: ${error.details || error.message}`,
                ),
              )
            : resolve(response as T),
      );
    });
  }
}
