import type { PackageDefinition } from '@grpc/proto-loader';
import * as descriptor from 'protobufjs/ext/descriptor';

interface MessageDescriptor {
  name: string;
  field?: { name: string; typeName?: string }[];
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}

/**
 * protobufjs (under @grpc/proto-loader and @grpc/reflection) names a map field's implicit
 * entry message after the field ("Labels"), where protoc names it "LabelsEntry". Strict
 * clients reject such a schema (grpcurl: "invalid map: incorrect implicit map entry name",
 * grpc/grpc-node and fullstorydev/grpcurl#519), so the descriptors reflection serves are
 * renamed here the way protoc would have named them.
 */
export function withProtocMapEntryNames(definition: PackageDefinition): PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const fix = (bytes: Buffer): Buffer => {
    let result = fixed.get(bytes);
    if (!result) {
      const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as {
        package?: string;
        messageType?: MessageDescriptor[];
      };
      for (const message of file.messageType ?? []) renameEntries(message, `.${file.package}`);
      result = Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish());
      fixed.set(bytes, result);
    }
    return result;
  };
  const out: PackageDefinition = {};
  for (const [name, entry] of Object.entries(definition)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    out[name] = protos ? ({ ...entry, fileDescriptorProtos: protos.map(fix) } as never) : entry;
  }
  return out;
}

function renameEntries(message: MessageDescriptor, scope: string): void {
  const path = `${scope}.${message.name}`;
  for (const nested of message.nestedType ?? []) {
    if (!nested.options?.mapEntry) {
      renameEntries(nested, path);
      continue;
    }
    const field = message.field?.find(
      (f) => f.typeName === nested.name || f.typeName === `${path}.${nested.name}`,
    );
    if (!field) continue;
    nested.name = protocEntryName(field.name);
    field.typeName = `${path}.${nested.name}`;
  }
}

/** protoc: the field name in CamelCase (underscores dropped, next letter upper) + "Entry". */
export function protocEntryName(fieldName: string): string {
  const camel = fieldName.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return `${camel.charAt(0).toUpperCase()}${camel.slice(1)}Entry`;
}
