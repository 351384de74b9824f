import { EventEmitter } from 'node:events';
import type { Server } from '@grpc/grpc-js';
import * as descriptor from 'protobufjs/ext/descriptor';
import {
  API_PACKAGE,
  API_SERVICES,
  type ApiServiceKey,
  apiPackageDefinition,
  apiProtoFile,
} from './grpc-server.options';
import type { FieldDescriptor, FileDescriptor, MessageDescriptor } from './proto-descriptor.types';
import { reflectionService, servedFileDescriptors } from './reflection-descriptors';

const KEYS = Object.keys(API_SERVICES) as ApiServiceKey[];
const PROTOS = KEYS.map(apiProtoFile);
const SERVICES = KEYS.map((k) => `${API_PACKAGE}.${API_SERVICES[k].name}`);

function messages(files: FileDescriptor[]): Map<string, MessageDescriptor> {
  const all = new Map<string, MessageDescriptor>();
  const add = (scope: string, message: MessageDescriptor) => {
    all.set(`${scope}.${message.name}`, message);
    message.nestedType.forEach((nested) => add(`${scope}.${message.name}`, nested));
  };
  for (const file of files) file.messageType.forEach((m) => add(file.package ?? '', m));
  return all;
}

describe('servedFileDescriptors', () => {
  const files = servedFileDescriptors(PROTOS);
  const byName = messages(files);

  it('describes the .proto as written: names, optional, comments', () => {
    const request = byName.get('vigil.v1.StartStreamRequest')!;
    const field = (name: string) => request.field.find((f) => f.name === name);
    expect(field('stream_id')).toMatchObject({ number: 2, jsonName: 'streamId' });
    expect(field('streamId')).toBeUndefined();
    expect(field('live')).toMatchObject({ proto3Optional: true });
    expect(request.oneofDecl.map((o) => o.name)).toEqual(['_live', '_fps', '_loop']);
    expect(request.nestedType.map((n) => n.name)).toEqual(['LabelsEntry']);
    const file = files.find((f) => f.name === 'vigil/v1/stream_service.proto')!;
    const index = file.messageType.indexOf(request);
    const streamId = file.sourceCodeInfo.location.find(
      (l) => l.path.join() === [4, index, 2, request.field.indexOf(field('stream_id')!)].join(),
    );
    expect(streamId?.leadingComments).toContain('Derived from the source when empty');
  });

  // The server decodes with proto-loader, clients encode with what reflection tells them: both
  // must be the same schema, field for field (proto-loader's camelCase names are the JSON names).
  it('agrees with the package definition the server decodes with', () => {
    const definition = apiPackageDefinition(KEYS);
    let compared = 0;
    for (const [name, entry] of Object.entries(definition)) {
      const loaded = (
        entry as { type?: { field?: { name: string; number: number; type: string }[] } }
      ).type;
      if (!loaded?.field || !name.startsWith('vigil.')) continue;
      const reflected = byName.get(name);
      const typeName = (f: FieldDescriptor) =>
        descriptor.FieldDescriptorProto.lookupEnum('Type').valuesById[f.type!];
      expect({
        name,
        fields: reflected?.field.map((f) => [f.number, f.jsonName, typeName(f)]),
      }).toEqual({
        name,
        fields: loaded.field.map((f) => [f.number, f.name, f.type]),
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
  });
});

describe('reflectionService', () => {
  /** Reflection v1 as grpc-js would run it, without a network. */
  function reflectionV1(
    protos = PROTOS,
    services = SERVICES,
  ): (request: object) => Promise<Record<string, unknown>> {
    let handler: ((stream: EventEmitter) => void) | undefined;
    const server = {
      addService(
        definition: Record<string, { path: string }>,
        implementation: Record<string, unknown>,
      ) {
        if (Object.values(definition)[0]!.path.startsWith('/grpc.reflection.v1.')) {
          handler = implementation.ServerReflectionInfo as typeof handler;
        }
      },
    };
    reflectionService(protos, services).addToServer(server as unknown as Server);
    return (request) =>
      new Promise((resolve) => {
        const stream = Object.assign(new EventEmitter(), { write: resolve, end: () => undefined });
        handler!(stream);
        stream.emit('data', request);
      });
  }

  it('lists the services served, itself and health included', async () => {
    const answer = await reflectionV1()({ messageRequest: 'listServices', listServices: '*' });
    expect(
      (answer.listServicesResponse as { service: { name: string }[] }).service
        .map((s) => s.name)
        .sort(),
    ).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'vigil.v1.AnalysisService',
      'vigil.v1.EventService',
      'vigil.v1.InferenceService',
      'vigil.v1.StreamService',
      'vigil.v1.WebhookService',
    ]);
  });

  it('lists only the services of a server that serves some (ingest, fusion)', async () => {
    const ask = reflectionV1([apiProtoFile('inference')], ['vigil.v1.InferenceService']);
    const answer = await ask({ messageRequest: 'listServices', listServices: '*' });
    expect(
      (answer.listServicesResponse as { service: { name: string }[] }).service
        .map((s) => s.name)
        .sort(),
    ).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'vigil.v1.InferenceService',
    ]);
    const missing = await ask({
      messageRequest: 'fileContainingSymbol',
      fileContainingSymbol: 'vigil.v1.StreamService',
    });
    expect(missing.errorResponse).toMatchObject({ errorCode: 5 });
  });

  it('answers a symbol with its file and the files it imports, comments kept', async () => {
    const answer = await reflectionV1()({
      messageRequest: 'fileContainingSymbol',
      fileContainingSymbol: 'vigil.v1.StartStreamRequest',
    });
    const files = (
      answer.fileDescriptorResponse as { fileDescriptorProto: Uint8Array[] }
    ).fileDescriptorProto.map(
      (bytes) =>
        descriptor.FileDescriptorProto.decode(bytes) as unknown as {
          name: string;
          dependency: string[];
          sourceCodeInfo: { location: { leadingComments?: string }[] };
        },
    );
    expect(files[0]!.name).toBe('vigil/v1/stream_service.proto');
    expect(files[0]!.dependency).toEqual(['vigil/v1/streams.proto']);
    expect(files.map((f) => f.name)).toContain('vigil/v1/streams.proto');
    expect(
      files[0]!.sourceCodeInfo.location.some((l) =>
        l.leadingComments?.includes('Starts and stops camera streams'),
      ),
    ).toBe(true);
  });
});
