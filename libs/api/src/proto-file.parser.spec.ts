import { FIELD_LABEL, FIELD_TYPE } from './proto-descriptor.types';
import { jsonName, mapEntryName, parseProtoFile } from './proto-file.parser';

const SOURCE = `syntax = "proto3";

package demo.v1;

option java_package = "io.demo";
option optimize_for = SPEED;

// A camera.
message Camera {  // one per device
  // The id as written.
  string stream_id = 1;
  optional bool live = 2;
  map<string, string> stream_labels = 3 [deprecated = true];
  oneof where {
    string url = 4;
    bytes blob = 5 [json_name = "data"];
  }
  optional string _live = 6;
  message Part {}
  repeated Part parts = 7;
  reserved 10, 20 to max;
  reserved "old";
}

enum Mode {
  MODE_UNSPECIFIED = 0;
  MODE_ON = 1 [deprecated = true];
  reserved -3 to -1;
}

service Cameras {
  // Starts one.
  rpc Start(stream Camera) returns (stream .demo.v1.Camera);
  rpc Stop(Camera) returns (Camera) { option deprecated = true; }
}
`;

describe('parseProtoFile', () => {
  const { descriptor: file, references } = parseProtoFile('demo/v1/camera.proto', SOURCE);
  const camera = file.messageType[0]!;
  const field = (name: string) => camera.field.find((f) => f.name === name)!;

  it('keeps the names, numbers and options the .proto writes', () => {
    expect(file).toMatchObject({
      name: 'demo/v1/camera.proto',
      package: 'demo.v1',
      syntax: 'proto3',
      options: { javaPackage: 'io.demo', optimizeFor: 'SPEED' },
    });
    expect(camera.field.map((f) => [f.name, f.number, f.jsonName])).toEqual([
      ['stream_id', 1, 'streamId'],
      ['live', 2, 'live'],
      ['stream_labels', 3, 'streamLabels'],
      ['url', 4, 'url'],
      ['blob', 5, 'data'],
      ['_live', 6, 'Live'],
      ['parts', 7, 'parts'],
    ]);
    expect(field('stream_id')).toMatchObject({
      label: FIELD_LABEL.optional,
      type: FIELD_TYPE.string,
    });
    expect(field('stream_labels').options).toEqual({ deprecated: true });
    expect(camera.reservedRange).toEqual([
      { start: 10, end: 11 },
      { start: 20, end: 536_870_912 },
    ]);
    expect(camera.reservedName).toEqual(['old']);
    const mode = file.enumType[0]!;
    expect(mode.value).toEqual([
      { name: 'MODE_UNSPECIFIED', number: 0 },
      { name: 'MODE_ON', number: 1, options: { deprecated: true } },
    ]);
    // Enum ranges include their end, message ranges do not.
    expect(mode.reservedRange).toEqual([{ start: -3, end: -1 }]);
  });

  it('marks proto3 optional fields and puts their oneofs after the real ones, named as protoc does', () => {
    // `_live` is taken by a field, so live's oneof is X_live and the field _live's XX_live.
    expect(camera.oneofDecl.map((o) => o.name)).toEqual(['where', 'X_live', 'XX_live']);
    expect(field('live')).toMatchObject({ proto3Optional: true, oneofIndex: 1 });
    expect(field('_live')).toMatchObject({ proto3Optional: true, oneofIndex: 2 });
    expect(field('url')).toMatchObject({ oneofIndex: 0 });
    expect(field('url').proto3Optional).toBeUndefined();
  });

  it('declares a map entry where its field is, named <Field>Entry', () => {
    expect(camera.nestedType.map((m) => m.name)).toEqual(['StreamLabelsEntry', 'Part']);
    expect(camera.nestedType[0]).toMatchObject({
      options: { mapEntry: true },
      field: [
        { name: 'key', number: 1, type: FIELD_TYPE.string },
        { name: 'value', number: 2, type: FIELD_TYPE.string },
      ],
    });
    expect(field('stream_labels').label).toBe(FIELD_LABEL.repeated);
    expect(field('parts').label).toBe(FIELD_LABEL.repeated);
  });

  it('leaves type names to resolve, with the scope they were written in', () => {
    expect(references.map((r) => [r.name, r.scope, r.messageOnly])).toEqual([
      ['StreamLabelsEntry', ['Camera'], false],
      ['Part', ['Camera'], false],
      ['Camera', [], true],
      ['.demo.v1.Camera', [], true],
      ['Camera', [], true],
      ['Camera', [], true],
    ]);
    references[1]!.resolve('.demo.v1.Camera.Part', false);
    expect(field('parts')).toMatchObject({
      type: FIELD_TYPE.message,
      typeName: '.demo.v1.Camera.Part',
    });
    references[2]!.resolve('.demo.v1.Camera', false);
    expect(file.service[0]!.method[0]).toMatchObject({
      name: 'Start',
      inputType: '.demo.v1.Camera',
      clientStreaming: true,
      serverStreaming: true,
    });
    expect(file.service[0]!.method[1]).toMatchObject({ options: { deprecated: true } });
    expect(file.service[0]!.method[1]!.clientStreaming).toBeUndefined();
  });

  it('records where each declaration is and the comments protoc would give it', () => {
    const at = (...path: number[]) =>
      file.sourceCodeInfo.location.find((l) => l.path.join() === path.join());
    expect(at(4, 0)).toEqual({
      path: [4, 0],
      span: [8, 0, 22, 1],
      leadingComments: ' A camera.\n',
      trailingComments: ' one per device\n',
    });
    expect(at(4, 0, 2, 0)).toEqual({
      path: [4, 0, 2, 0],
      span: [10, 2, 23],
      leadingComments: ' The id as written.\n',
    });
    expect(at(4, 0, 8, 0)?.span).toEqual([13, 2, 16, 3]);
    expect(at(4, 0, 3, 1)?.span).toEqual([18, 2, 17]);
    expect(at(5, 0, 2, 1)?.span).toEqual([26, 2, 34]);
    expect(at(6, 0, 2, 0)).toEqual({
      path: [6, 0, 2, 0],
      span: [32, 2, 60],
      leadingComments: ' Starts one.\n',
    });
    // Locations come in the order of their declarations, as protoc writes them.
    const paths = file.sourceCodeInfo.location.map((l) => l.path.join());
    expect(paths.indexOf('4,0')).toBeLessThan(paths.indexOf('4,0,2,0'));
    expect(paths.indexOf('4,0,3,1')).toBeLessThan(paths.indexOf('4,0,2,6'));
  });

  it('refuses what a proto3 file cannot say or we cannot describe, naming the place', () => {
    const parse = (body: string) => () =>
      parseProtoFile('bad.proto', `syntax = "proto3";\n${body}\n`);
    expect(() => parseProtoFile('bad.proto', 'syntax = "proto2";')).toThrow(
      'bad.proto:1:1: syntax "proto2" is not supported, only proto3',
    );
    expect(() => parseProtoFile('bad.proto', 'message M {}')).toThrow('only proto3');
    expect(parse('message M { required int32 a = 1; }')).toThrow('bad.proto:2:13: "required"');
    expect(parse('option (my.custom) = 1;')).toThrow('custom options are not supported');
    expect(parse('option no_such_thing = 1;')).toThrow('FileOptions has no option "no_such_thing"');
    expect(parse('option java_package = 3;')).toThrow('option "java_package" takes a string');
    expect(parse('enum E { E_ONE = 1; }')).toThrow('the first value of proto3 enum E must be 0');
    expect(parse('message M { map<float, string> m = 1; }')).toThrow('"float" cannot be a map key');
    expect(parse('message M { int32 a = 0; }')).toThrow('field numbers are 1 to 536870911');
    expect(parse('message M { oneof o { repeated int32 a = 1; } }')).toThrow(
      'fields in a oneof take no label',
    );
    expect(parse('message M { int32 a = 1 }')).toThrow('bad.proto:2:25: expected ";", found "}"');
  });
});

describe('names derived as protoc derives them', () => {
  it('names map entries and JSON fields', () => {
    expect(mapEntryName('labels')).toBe('LabelsEntry');
    expect(mapEntryName('stream_labels')).toBe('StreamLabelsEntry');
    expect(mapEntryName('streamLabels')).toBe('StreamLabelsEntry');
    expect(jsonName('stream_id')).toBe('streamId');
    expect(jsonName('decoded_sec')).toBe('decodedSec');
    expect(jsonName('_live')).toBe('Live');
  });
});
