import * as descriptor from 'protobufjs/ext/descriptor';
import { apiPackageDefinition } from './grpc-server.options';
import { protocEntryName, withProtocMapEntryNames } from './reflection-descriptors';

describe('withProtocMapEntryNames', () => {
  it('names entries as protoc does', () => {
    expect(protocEntryName('labels')).toBe('LabelsEntry');
    expect(protocEntryName('stream_labels')).toBe('StreamLabelsEntry');
    expect(protocEntryName('streamLabels')).toBe('StreamLabelsEntry');
  });

  it('renames every map entry of the served schema and points its field at it', () => {
    const fixed = withProtocMapEntryNames(apiPackageDefinition(['streams', 'events']));
    const protos = (
      fixed['vigil.v1.StartStreamRequest'] as unknown as { fileDescriptorProtos: Buffer[] }
    ).fileDescriptorProtos;
    const files = protos.map(
      (b) =>
        descriptor.FileDescriptorProto.decode(b) as unknown as {
          package: string;
          messageType: {
            name: string;
            field: { name: string; typeName?: string }[];
            nestedType: { name: string; options?: { mapEntry?: boolean } }[];
          }[];
        },
    );
    const vigil = files.find((f) => f.package === 'vigil.v1')!;
    const request = vigil.messageType.find((m) => m.name === 'StartStreamRequest')!;
    expect(request.nestedType.map((n) => n.name)).toEqual(['LabelsEntry']);
    expect(request.field.find((f) => f.name === 'labels')!.typeName).toBe(
      '.vigil.v1.StartStreamRequest.LabelsEntry',
    );
    const record = vigil.messageType.find((m) => m.name === 'EventRecord')!;
    expect(record.nestedType.map((n) => n.name)).toEqual(['StreamLabelsEntry']);
  });
});
