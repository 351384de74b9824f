import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import * as descriptor from 'protobufjs/ext/descriptor';
import { protosDir } from '@app/contracts';
import type { FileDescriptor } from './proto-descriptor.types';
import { compileProtoFiles } from './proto-files.compiler';

/**
 * What server reflection serves is compiled here from the .proto files themselves, not taken
 * from the package definition Nest binds: proto-loader's descriptors carry its camelCase
 * names, lose proto3 `optional` and every comment, so a client such as grpcurl would refuse
 * `{"stream_id": …}` and describe nothing. Clients encode with the reflected schema, so the
 * bytes on the wire are the same and the server's own (camelCase) objects need not change.
 */

export const HEALTH_PROTO = 'grpc/health/v1/health.proto';
export const REFLECTION_PROTOS = [
  'grpc/reflection/v1/reflection.proto',
  'grpc/reflection/v1alpha/reflection.proto',
] as const;
const REFLECTION_SERVICES = [
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/** The standard services' files under the names every other gRPC server gives them. */
function readProto(name: string): string {
  if (name === HEALTH_PROTO) return readFileSync(healthProtoPath, 'utf8');
  if ((REFLECTION_PROTOS as readonly string[]).includes(name)) {
    return readFileSync(join(reflectionProtosDir(), name), 'utf8');
  }
  return readFileSync(join(protosDir(), name), 'utf8');
}

/** Through createRequire: a bundler would turn a plain require.resolve into a module id. */
function reflectionProtosDir(): string {
  const resolve = createRequire(join(__dirname, 'reflection-descriptors.js')).resolve;
  return join(dirname(resolve('@grpc/reflection/package.json')), 'build', 'proto');
}

/** Our .proto files (paths under protos/) with health's and reflection's, compiled by protoc's rules. */
export function servedFileDescriptors(protoFiles: readonly string[]): FileDescriptor[] {
  return compileProtoFiles([...protoFiles, HEALTH_PROTO, ...REFLECTION_PROTOS], readProto);
}

/**
 * Reflection for the given files that lists exactly the given services (full names), plus
 * health and reflection itself, which every Vigil server also serves.
 */
export function reflectionService(
  protoFiles: readonly string[],
  services: readonly string[],
): ReflectionService {
  const files = servedFileDescriptors(protoFiles).map((file) =>
    Buffer.from(
      descriptor.FileDescriptorProto.encode(
        descriptor.FileDescriptorProto.fromObject(file),
      ).finish(),
    ),
  );
  // @grpc/reflection reads only the file descriptors of a package definition's entries.
  const definition = { files: { fileDescriptorProtos: files } } as unknown as PackageDefinition;
  return new ReflectionService(definition, {
    services: [...services, 'grpc.health.v1.Health', ...REFLECTION_SERVICES],
  });
}
