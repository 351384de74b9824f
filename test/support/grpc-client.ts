import { join } from 'node:path';
import {
  type ChannelCredentials,
  type Client,
  type ClientReadableStream,
  type ClientDuplexStream,
  credentials as grpcCredentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS, API_SERVICES, apiPackageDefinition } from '@app/api';

/**
 * Real @grpc/grpc-js clients for the e2e tests, built from the same .proto files the server
 * serves (as any client would), with promise wrappers for unary calls.
 */
type Loaded = Record<
  string,
  new (address: string, credentials: ChannelCredentials, options?: object) => Client
>;

export interface ApiClients {
  streams: Client & Record<string, (...args: unknown[]) => unknown>;
  events: Client & Record<string, (...args: unknown[]) => unknown>;
  analysis: Client & Record<string, (...args: unknown[]) => unknown>;
  inference: Client & Record<string, (...args: unknown[]) => unknown>;
  webhooks: Client & Record<string, (...args: unknown[]) => unknown>;
  health: Client & Record<string, (...args: unknown[]) => unknown>;
  reflection: Client & Record<string, (...args: unknown[]) => unknown>;
  close(): void;
}

export function apiClients(
  address: string,
  credentials: ChannelCredentials = grpcCredentials.createInsecure(),
  options: object = {},
): ApiClients {
  const definition = loadPackageDefinition(
    apiPackageDefinition(Object.keys(API_SERVICES) as (keyof typeof API_SERVICES)[]),
  ) as unknown as { vigil: { v1: Loaded }; grpc: { health: { v1: Loaded } } };
  const reflectionProto = join(
    require.resolve('@grpc/reflection/package.json'),
    '..',
    'build',
    'proto',
    'grpc',
    'reflection',
    'v1',
    'reflection.proto',
  );
  const reflection = loadPackageDefinition(
    loadSync(reflectionProto, PROTO_LOADER_OPTIONS),
  ) as unknown as {
    grpc: { reflection: { v1: Loaded } };
  };
  const make = (ctor: Loaded[string]) =>
    new ctor(address, credentials, options) as Client &
      Record<string, (...args: unknown[]) => unknown>;
  const v1 = definition.vigil.v1;
  const clients = {
    streams: make(v1.StreamService!),
    events: make(v1.EventService!),
    analysis: make(v1.AnalysisService!),
    inference: make(v1.InferenceService!),
    webhooks: make(v1.WebhookService!),
    health: make(definition.grpc.health.v1.Health!),
    reflection: make(reflection.grpc.reflection.v1.ServerReflection!),
  };
  return {
    ...clients,
    close: () => Object.values(clients).forEach((c) => c.close()),
  };
}

export function bearer(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** A unary call as a promise; rejects with the ServiceError (code, details). */
export function unary<T>(
  client: Record<string, (...args: unknown[]) => unknown>,
  method: string,
  request: object,
  metadata: Metadata = new Metadata(),
  options: { deadline?: number } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(request, metadata, options, (error: ServiceError | null, response: T) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** Collects a server stream until it ends or `until` says stop (then cancels it). */
export function collect<T>(
  stream: ClientReadableStream<T> | ClientDuplexStream<unknown, T>,
  until: (items: T[]) => boolean = () => false,
): Promise<T[]> {
  const items: T[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (item: T) => {
      items.push(item);
      if (until(items)) {
        stream.cancel();
        resolve(items);
      }
    });
    stream.on('error', (error: ServiceError) => {
      if (error.code === 1 /* CANCELLED */ && until(items)) return;
      reject(error);
    });
    stream.on('end', () => resolve(items));
  });
}

/** The status code a call failed with. */
export async function statusOf(
  promise: Promise<unknown>,
): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    const { code, details } = error as ServiceError;
    return { code, details };
  }
  throw new Error('the call succeeded');
}
