import { FIELD_TYPE } from './proto-descriptor.types';
import { compileProtoFiles } from './proto-files.compiler';

const FILES: Record<string, string> = {
  'a/common.proto': `syntax = "proto3";
package a.common;
message Thing { string id = 1; }
enum Level { LEVEL_UNSPECIFIED = 0; }`,
  'a/reexport.proto': `syntax = "proto3";
package a.reexport;
import public "a/common.proto";`,
  'a/v1/main.proto': `syntax = "proto3";
package a.v1;
import "a/reexport.proto";
message Outer {
  message Inner { enum Kind { KIND_UNSPECIFIED = 0; } }
  Inner inner = 1;
  Inner.Kind kind = 2;
  common.Thing thing = 3;
  .a.common.Level level = 4;
  map<string, Inner> inners = 5;
}
service Things { rpc Get(Outer) returns (common.Thing); }`,
};
const read = (files: Record<string, string>) => (name: string) => {
  const source = files[name];
  if (source === undefined) throw new Error(`no file ${name}`);
  return source;
};

describe('compileProtoFiles', () => {
  it('puts imports before the files that need them', () => {
    expect(compileProtoFiles(['a/v1/main.proto'], read(FILES)).map((f) => f.name)).toEqual([
      'a/common.proto',
      'a/reexport.proto',
      'a/v1/main.proto',
    ]);
  });

  it('qualifies every type name fully, by protoc scoping, through public imports', () => {
    const main = compileProtoFiles(['a/v1/main.proto'], read(FILES)).at(-1)!;
    const outer = main.messageType[0]!;
    expect(outer.field.map((f) => [f.name, f.type, f.typeName])).toEqual([
      ['inner', FIELD_TYPE.message, '.a.v1.Outer.Inner'],
      ['kind', FIELD_TYPE.enum, '.a.v1.Outer.Inner.Kind'],
      ['thing', FIELD_TYPE.message, '.a.common.Thing'],
      ['level', FIELD_TYPE.enum, '.a.common.Level'],
      ['inners', FIELD_TYPE.message, '.a.v1.Outer.InnersEntry'],
    ]);
    expect(outer.nestedType[1]!.field[1]).toMatchObject({
      type: FIELD_TYPE.message,
      typeName: '.a.v1.Outer.Inner',
    });
    expect(main.service[0]!.method[0]).toMatchObject({
      inputType: '.a.v1.Outer',
      outputType: '.a.common.Thing',
    });
  });

  it('finds the innermost definition first', () => {
    const files = {
      'x.proto': `syntax = "proto3";
package x;
message Kind {}
message M { message Kind {} Kind k = 1; }`,
    };
    const [file] = compileProtoFiles(['x.proto'], read(files));
    expect(file!.messageType[1]!.field[0]!.typeName).toBe('.x.M.Kind');
  });

  it('refuses what protoc refuses, naming the file and the place', () => {
    const compile =
      (main: string, extra: Record<string, string> = {}) =>
      () =>
        compileProtoFiles(['m.proto'], read({ ...FILES, ...extra, 'm.proto': main }));
    expect(compile('syntax = "proto3";\nmessage M { Missing x = 1; }')).toThrow(
      'm.proto:2:13: "Missing" is not defined',
    );
    // a/v1/main.proto imports a/common.proto, but only m.proto's own imports count.
    expect(
      compile('syntax = "proto3";\nimport "a/v1/main.proto";\nmessage M { a.common.Thing t = 1; }'),
    ).toThrow('"a.common.Thing" is defined in "a/common.proto", which is not imported');
    expect(
      compile(
        'syntax = "proto3";\nimport "a/common.proto";\nservice S { rpc R(a.common.Level) returns (a.common.Thing); }',
      ),
    ).toThrow('"a.common.Level" is not a message type');
    expect(compile('syntax = "proto3";\nmessage M {}\nmessage M {}')).toThrow(
      '"M" is defined twice: in m.proto and in m.proto',
    );
    expect(
      compile('syntax = "proto3";\nimport "c.proto";', {
        'c.proto': 'syntax = "proto3";\nimport "m.proto";',
      }),
    ).toThrow('import cycle: m.proto → c.proto → m.proto');
    expect(compile('syntax = "proto3";\nimport "nowhere.proto";')).toThrow('no file nowhere.proto');
  });
});
