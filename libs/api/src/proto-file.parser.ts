import * as descriptor from 'protobufjs/ext/descriptor';
import type { Type as ProtobufType } from 'protobufjs';
import {
  DESCRIPTOR_PATH as P,
  type DescriptorOptions,
  type EnumDescriptor,
  FIELD_LABEL,
  FIELD_TYPE,
  type FieldDescriptor,
  type FileDescriptor,
  type MessageDescriptor,
  type MethodDescriptor,
  type ServiceDescriptor,
  type SourceLocation,
} from './proto-descriptor.types';
import { type ProtoToken, ProtoSyntaxError, tokenizeProto } from './proto-source.tokenizer';

/**
 * One proto3 file as protoc describes it: the .proto's own names, proto3 `optional` as
 * proto3_optional with its synthetic oneof after the real ones, map entries named
 * `<Field>Entry`, and source info (spans and comments) for every declaration. Type names are
 * resolved across files afterwards (proto-files.compiler), from `references`.
 */

export interface TypeReference {
  /** As written: "Severity", ".vigil.v1.Severity", "StartStreamRequest.LabelsEntry". */
  name: string;
  /** Enclosing messages, innermost last; the file's package comes first when resolved. */
  scope: string[];
  /** Methods take messages only. */
  messageOnly: boolean;
  token: ProtoToken;
  /** Receives the fully-qualified name (".pkg.Type") and whether it names an enum. */
  resolve(fullName: string, isEnum: boolean): void;
}

export interface ParsedProtoFile {
  descriptor: FileDescriptor;
  references: TypeReference[];
}

export function parseProtoFile(name: string, source: string): ParsedProtoFile {
  return new ProtoFileParser(name, tokenizeProto(source, name)).parse();
}

/** protoc's MapEntryName: `stream_labels` → `StreamLabelsEntry`. */
export function mapEntryName(fieldName: string): string {
  return `${fieldName.replace(/(?:^|_+)([a-z]?)/g, (_, c: string) => c.toUpperCase())}Entry`;
}

/** protoc's ToJsonName: `stream_id` → `streamId`. */
export function jsonName(fieldName: string): string {
  return fieldName.replace(/_([\s\S]?)/g, (_, c: string) => c.toUpperCase());
}

const SCALARS = new Set([
  'double',
  'float',
  'int64',
  'uint64',
  'int32',
  'fixed64',
  'fixed32',
  'bool',
  'string',
  'bytes',
  'uint32',
  'sfixed32',
  'sfixed64',
  'sint32',
  'sint64',
]);
const MAP_KEYS = new Set([...SCALARS].filter((s) => !['double', 'float', 'bytes'].includes(s)));
const MAX_FIELD_NUMBER = 536_870_911;
const MAX_ENUM_NUMBER = 2_147_483_647;

type Range = { start: number; end: number };

class ProtoFileParser {
  private index = 0;
  private readonly references: TypeReference[] = [];
  private readonly locations: SourceLocation[] = [];
  private readonly file: FileDescriptor;

  constructor(
    name: string,
    private readonly tokens: ProtoToken[],
  ) {
    this.file = {
      name,
      dependency: [],
      publicDependency: [],
      weakDependency: [],
      messageType: [],
      enumType: [],
      service: [],
      sourceCodeInfo: { location: this.locations },
      syntax: 'proto3',
    };
  }

  parse(): ParsedProtoFile {
    this.syntax();
    while (this.peek()) {
      const first = this.peek()!;
      if (this.accept(';')) continue;
      switch (first.text) {
        case 'package':
          this.packageStatement();
          break;
        case 'import':
          this.importStatement();
          break;
        case 'option':
          this.file.options = this.option(this.file.options, descriptor.FileOptions);
          break;
        case 'message':
          this.file.messageType.push(
            this.message([P.file.messageType, this.file.messageType.length], []),
          );
          break;
        case 'enum':
          this.file.enumType.push(this.enumeration([P.file.enumType, this.file.enumType.length]));
          break;
        case 'service':
          this.file.service.push(this.service([P.file.service, this.file.service.length]));
          break;
        default:
          this.fail(first, `expected a top-level declaration, found "${first.text}"`);
      }
    }
    return { descriptor: this.file, references: this.references };
  }

  private syntax(): void {
    const first = this.peek();
    if (first?.text !== 'syntax') {
      this.fail(first, 'only proto3 files are supported: the file must start with syntax');
    }
    const location = this.open([P.file.syntax], this.next());
    this.expect('=');
    const value = this.stringLiteral();
    if (value !== 'proto3') this.fail(first, `syntax "${value}" is not supported, only proto3`);
    this.close(location, this.expect(';'));
  }

  private packageStatement(): void {
    const location = this.open([P.file.package], this.expect('package'));
    if (this.file.package !== undefined) this.fail(this.previous(), 'a second package statement');
    this.file.package = this.fullIdentifier();
    this.close(location, this.expect(';'));
  }

  private importStatement(): void {
    const location = this.open(
      [P.file.dependency, this.file.dependency.length],
      this.expect('import'),
    );
    const index = this.file.dependency.length;
    if (this.accept('public')) this.file.publicDependency.push(index);
    else if (this.accept('weak')) this.file.weakDependency.push(index);
    this.file.dependency.push(this.stringLiteral());
    this.close(location, this.expect(';'));
  }

  private message(path: number[], scope: string[]): MessageDescriptor {
    const location = this.open(path, this.expect('message'));
    const message: MessageDescriptor = {
      name: this.identifier().text,
      field: [],
      nestedType: [],
      enumType: [],
      oneofDecl: [],
      reservedRange: [],
      reservedName: [],
    };
    const inner = [...scope, message.name];
    const open = this.expect('{');
    while (!this.accept('}')) {
      const first = this.peekOrFail();
      if (this.accept(';')) continue;
      switch (first.text) {
        case 'message':
          message.nestedType.push(
            this.message([...path, P.message.nestedType, message.nestedType.length], inner),
          );
          break;
        case 'enum':
          message.enumType.push(
            this.enumeration([...path, P.message.enumType, message.enumType.length]),
          );
          break;
        case 'oneof':
          this.oneof(message, path, inner);
          break;
        case 'option':
          message.options = this.option(message.options, descriptor.MessageOptions);
          break;
        case 'reserved':
          this.reserved(message, MAX_FIELD_NUMBER, 1);
          break;
        case 'extensions':
        case 'extend':
        case 'group':
        case 'required':
          this.fail(first, `"${first.text}" is proto2; this file is proto3`);
          break;
        default:
          this.field(message, path, inner);
      }
    }
    this.generateSyntheticOneofs(message);
    this.close(location, this.previous(), open);
    return message;
  }

  /** As protoc: `_name` (X-prefixed until unique) for each proto3 optional, after real oneofs. */
  private generateSyntheticOneofs(message: MessageDescriptor): void {
    const names = new Set([...message.field, ...message.oneofDecl].map((d) => d.name));
    for (const field of message.field) {
      if (!field.proto3Optional) continue;
      let name = field.name.startsWith('_') ? field.name : `_${field.name}`;
      while (names.has(name)) name = `X${name}`;
      names.add(name);
      field.oneofIndex = message.oneofDecl.length;
      message.oneofDecl.push({ name });
    }
  }

  private oneof(message: MessageDescriptor, path: number[], scope: string[]): void {
    const oneofIndex = message.oneofDecl.length;
    const location = this.open([...path, P.message.oneofDecl, oneofIndex], this.expect('oneof'));
    const oneof: MessageDescriptor['oneofDecl'][number] = { name: this.identifier().text };
    message.oneofDecl.push(oneof);
    const open = this.expect('{');
    while (!this.accept('}')) {
      const first = this.peekOrFail();
      if (this.accept(';')) continue;
      if (first.text === 'option')
        oneof.options = this.option(oneof.options, descriptor.OneofOptions);
      else this.field(message, path, scope, oneofIndex);
    }
    this.close(location, this.previous(), open);
  }

  private field(
    message: MessageDescriptor,
    path: number[],
    scope: string[],
    oneofIndex?: number,
  ): void {
    const location = this.open([...path, P.message.field, message.field.length], this.peekOrFail());
    let label: number = FIELD_LABEL.optional;
    let proto3Optional = false;
    const labelToken = this.peek();
    if (oneofIndex === undefined && this.accept('repeated')) label = FIELD_LABEL.repeated;
    else if (oneofIndex === undefined && this.accept('optional')) proto3Optional = true;
    else if (oneofIndex !== undefined && (this.accept('repeated') || this.accept('optional'))) {
      this.fail(labelToken, 'fields in a oneof take no label');
    }
    const isMap = this.peek()?.text === 'map' && this.peek(1)?.text === '<';
    if (isMap && (label !== FIELD_LABEL.optional || proto3Optional || oneofIndex !== undefined)) {
      this.fail(labelToken, 'a map field takes no label and cannot be in a oneof');
    }
    const typeToken = this.peekOrFail();
    const map = isMap ? this.mapEntry() : undefined;
    const typeName = map ? '' : this.typeName();
    const name = this.identifier().text;
    this.expect('=');
    const number = this.integer(this.next());
    if (number < 1 || number > MAX_FIELD_NUMBER) {
      this.fail(this.previous(), `field numbers are 1 to ${MAX_FIELD_NUMBER}`);
    }
    const field: FieldDescriptor = { name, number, label, jsonName: jsonName(name) };
    if (this.peek()?.text === '[') this.fieldOptions(field);
    this.close(location, this.expect(';'));
    if (proto3Optional) field.proto3Optional = true;
    if (oneofIndex !== undefined) field.oneofIndex = oneofIndex;
    if (map) {
      // protoc declares the entry where the field is, so it takes its place among nested types.
      map.entry.name = mapEntryName(name);
      message.nestedType.push(map.entry);
      field.label = FIELD_LABEL.repeated;
      this.fieldType(field, map.entry.name, scope, typeToken);
      this.fieldType(map.entry.field[1]!, map.valueType, [...scope, map.entry.name], typeToken);
    } else {
      this.fieldType(field, typeName, scope, typeToken);
    }
    message.field.push(field);
  }

  /** `map<K, V>`: the implicit entry message, named by the caller; V's type is set later. */
  private mapEntry(): { entry: MessageDescriptor; valueType: string } {
    this.expect('map');
    this.expect('<');
    const keyToken = this.peekOrFail();
    const keyType = this.typeName();
    if (!MAP_KEYS.has(keyType)) this.fail(keyToken, `"${keyType}" cannot be a map key`);
    this.expect(',');
    const valueType = this.typeName();
    this.expect('>');
    const key: FieldDescriptor = {
      name: 'key',
      number: 1,
      label: FIELD_LABEL.optional,
      type: FIELD_TYPE[keyType as keyof typeof FIELD_TYPE],
      jsonName: 'key',
    };
    const value: FieldDescriptor = {
      name: 'value',
      number: 2,
      label: FIELD_LABEL.optional,
      jsonName: 'value',
    };
    return {
      entry: {
        name: '',
        field: [key, value],
        nestedType: [],
        enumType: [],
        oneofDecl: [],
        options: { mapEntry: true },
        reservedRange: [],
        reservedName: [],
      },
      valueType,
    };
  }

  /** A scalar now; a message or an enum once the name is resolved. */
  private fieldType(
    field: FieldDescriptor,
    typeName: string,
    scope: string[],
    token: ProtoToken,
  ): void {
    if (SCALARS.has(typeName)) {
      field.type = FIELD_TYPE[typeName as keyof typeof FIELD_TYPE];
      return;
    }
    this.references.push({
      name: typeName,
      scope,
      messageOnly: false,
      token,
      resolve: (fullName, isEnum) => {
        field.type = isEnum ? FIELD_TYPE.enum : FIELD_TYPE.message;
        field.typeName = fullName;
      },
    });
  }

  private fieldOptions(field: FieldDescriptor): void {
    this.expect('[');
    do {
      const token = this.peekOrFail();
      if (token.text === 'json_name') {
        this.next();
        this.expect('=');
        field.jsonName = this.stringLiteral();
      } else if (token.text === 'default') {
        this.fail(token, 'proto3 fields have no explicit default');
      } else {
        field.options = this.optionAssignment(field.options, descriptor.FieldOptions);
      }
    } while (this.accept(','));
    this.expect(']');
  }

  private enumeration(path: number[]): EnumDescriptor {
    const location = this.open(path, this.expect('enum'));
    const enumeration: EnumDescriptor = {
      name: this.identifier().text,
      value: [],
      reservedRange: [],
      reservedName: [],
    };
    const open = this.expect('{');
    while (!this.accept('}')) {
      const first = this.peekOrFail();
      if (this.accept(';')) continue;
      if (first.text === 'option') {
        enumeration.options = this.option(enumeration.options, descriptor.EnumOptions);
      } else if (first.text === 'reserved') {
        this.reserved(enumeration, MAX_ENUM_NUMBER, 0);
      } else {
        const valueLocation = this.open([...path, P.enum.value, enumeration.value.length], first);
        const name = this.identifier().text;
        this.expect('=');
        const negative = this.accept('-') !== undefined;
        const number = this.integer(this.next()) * (negative ? -1 : 1);
        if (number < -MAX_ENUM_NUMBER - 1 || number > MAX_ENUM_NUMBER) {
          this.fail(this.previous(), 'enum values are 32-bit integers');
        }
        const value: EnumDescriptor['value'][number] = { name, number };
        if (this.accept('[')) {
          do value.options = this.optionAssignment(value.options, descriptor.EnumValueOptions);
          while (this.accept(','));
          this.expect(']');
        }
        this.close(valueLocation, this.expect(';'));
        enumeration.value.push(value);
      }
    }
    if (enumeration.value[0]?.number !== 0) {
      this.fail(this.previous(), `the first value of proto3 enum ${enumeration.name} must be 0`);
    }
    this.close(location, this.previous(), open);
    return enumeration;
  }

  /** Message ranges end exclusive (`endOffset` 1), enum ranges inclusive (0), as descriptor.proto. */
  private reserved(
    target: { reservedRange: Range[]; reservedName: string[] },
    max: number,
    endOffset: number,
  ): void {
    this.expect('reserved');
    if (this.peek()?.kind === 'string') {
      do target.reservedName.push(this.stringLiteral());
      while (this.accept(','));
    } else {
      do {
        const start = this.signedInteger();
        let end = start;
        if (this.accept('to')) end = this.accept('max') ? max : this.signedInteger();
        target.reservedRange.push({ start, end: end + endOffset });
      } while (this.accept(','));
    }
    this.expect(';');
  }

  private service(path: number[]): ServiceDescriptor {
    const location = this.open(path, this.expect('service'));
    const service: ServiceDescriptor = { name: this.identifier().text, method: [] };
    const open = this.expect('{');
    while (!this.accept('}')) {
      const first = this.peekOrFail();
      if (this.accept(';')) continue;
      if (first.text === 'option') {
        service.options = this.option(service.options, descriptor.ServiceOptions);
      } else if (first.text === 'rpc') {
        service.method.push(this.method([...path, P.service.method, service.method.length]));
      } else {
        this.fail(first, `expected rpc or option, found "${first.text}"`);
      }
    }
    this.close(location, this.previous(), open);
    return service;
  }

  private method(path: number[]): MethodDescriptor {
    const location = this.open(path, this.expect('rpc'));
    const method: MethodDescriptor = {
      name: this.identifier().text,
      inputType: '',
      outputType: '',
    };
    const side = (
      streaming: 'clientStreaming' | 'serverStreaming',
      type: 'inputType' | 'outputType',
    ) => {
      this.expect('(');
      if (this.peek()?.text === 'stream' && this.peek(1)?.text !== ')') {
        this.next();
        method[streaming] = true;
      }
      const token = this.peekOrFail();
      this.references.push({
        name: this.typeName(),
        scope: [],
        messageOnly: true,
        token,
        resolve: (fullName) => (method[type] = fullName),
      });
      this.expect(')');
    };
    side('clientStreaming', 'inputType');
    this.expect('returns');
    side('serverStreaming', 'outputType');
    if (this.peek()?.text === '{') {
      const open = this.next();
      while (!this.accept('}')) {
        if (this.accept(';')) continue;
        method.options = this.option(method.options, descriptor.MethodOptions);
      }
      this.close(location, this.previous(), open);
    } else {
      this.close(location, this.expect(';'));
    }
    return method;
  }

  /** `option name = value;` */
  private option(options: DescriptorOptions | undefined, type: ProtobufType): DescriptorOptions {
    this.expect('option');
    const result = this.optionAssignment(options, type);
    this.expect(';');
    return result;
  }

  /** `name = value`, checked against the options message (FileOptions, FieldOptions...). */
  private optionAssignment(
    options: DescriptorOptions | undefined,
    type: ProtobufType,
  ): DescriptorOptions {
    const token = this.peekOrFail();
    if (token.text === '(') {
      this.fail(token, 'custom options are not supported in served descriptors');
    }
    const name = this.fullIdentifier();
    this.expect('=');
    const valueToken = this.peekOrFail();
    const value = this.constant();
    const key = name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const field = type.fields[key];
    if (!field) this.fail(token, `${type.name} has no option "${name}"`);
    const expected =
      field.type === 'bool'
        ? 'boolean'
        : field.type === 'string' || field.type === 'bytes'
          ? 'string'
          : /int|fixed|double|float/.test(field.type)
            ? 'number'
            : undefined;
    if (expected !== undefined && typeof value !== expected) {
      this.fail(valueToken, `option "${name}" takes a ${expected}`);
    }
    return { ...options, [key]: value };
  }

  private constant(): string | number | boolean {
    const token = this.peekOrFail();
    if (token.kind === 'string') return this.stringLiteral();
    const negative = this.accept('-') !== undefined;
    const value = this.next();
    const sign = negative ? -1 : 1;
    if (value.kind === 'integer') return sign * this.integer(value);
    if (value.kind === 'float') return sign * Number(value.text);
    if (value.text === 'inf') return sign * Infinity;
    if (value.text === 'nan') return NaN;
    if (!negative && value.text === 'true') return true;
    if (!negative && value.text === 'false') return false;
    if (!negative && value.kind === 'identifier') return value.text;
    return this.fail(value, 'expected a constant');
  }

  private signedInteger(): number {
    const negative = this.accept('-') !== undefined;
    return this.integer(this.next()) * (negative ? -1 : 1);
  }

  private integer(token: ProtoToken): number {
    if (token.kind !== 'integer') this.fail(token, `expected an integer, found "${token.text}"`);
    const text = token.text;
    const value = /^0[xX]/.test(text)
      ? parseInt(text.slice(2), 16)
      : /^0[0-7]+$/.test(text)
        ? parseInt(text.slice(1), 8)
        : /^0[0-9]+$/.test(text)
          ? this.fail(token, 'invalid octal number')
          : Number(text);
    if (!Number.isSafeInteger(value)) this.fail(token, 'integer out of range');
    return value;
  }

  /** One or more adjacent string literals, escapes decoded. */
  private stringLiteral(): string {
    let token = this.next();
    if (token.kind !== 'string') this.fail(token, `expected a string, found "${token.text}"`);
    let value = unescape(token.text.slice(1, -1));
    while (this.peek()?.kind === 'string') {
      token = this.next();
      value += unescape(token.text.slice(1, -1));
    }
    return value;
  }

  private typeName(): string {
    let name = this.accept('.') ? '.' : '';
    name += this.identifier().text;
    while (this.accept('.')) name += `.${this.identifier().text}`;
    return name;
  }

  private fullIdentifier(): string {
    let name = this.identifier().text;
    while (this.accept('.')) name += `.${this.identifier().text}`;
    return name;
  }

  private identifier(): ProtoToken {
    const token = this.next();
    if (token.kind !== 'identifier') this.fail(token, `expected a name, found "${token.text}"`);
    return token;
  }

  /** A location is recorded where its declaration starts, as protoc orders them. */
  private open(path: number[], first: ProtoToken): { location: SourceLocation; first: ProtoToken } {
    const location: SourceLocation = { path, span: [] };
    this.locations.push(location);
    return { location, first };
  }

  /** `trailing`: the token whose trailing comment is the declaration's (`{` for a block). */
  private close(
    { location, first }: { location: SourceLocation; first: ProtoToken },
    last: ProtoToken,
    trailing: ProtoToken = last,
  ): void {
    location.span =
      first.line === last.line
        ? [first.line, first.column, last.endColumn]
        : [first.line, first.column, last.line, last.endColumn];
    if (first.leading !== undefined) location.leadingComments = first.leading;
    if (trailing.trailing !== undefined) location.trailingComments = trailing.trailing;
    if (first.detached.length > 0) location.leadingDetachedComments = [...first.detached];
  }

  private peek(offset = 0): ProtoToken | undefined {
    return this.tokens[this.index + offset];
  }

  private peekOrFail(): ProtoToken {
    return this.peek() ?? this.fail(this.previous(), 'unexpected end of file');
  }

  private previous(): ProtoToken {
    return this.tokens[this.index - 1]!;
  }

  private next(): ProtoToken {
    const token = this.peekOrFail();
    this.index++;
    return token;
  }

  private accept(text: string): ProtoToken | undefined {
    const token = this.peek();
    if (token?.text !== text) return undefined;
    this.index++;
    return token;
  }

  private expect(text: string): ProtoToken {
    const token = this.peekOrFail();
    if (token.text !== text) this.fail(token, `expected "${text}", found "${token.text}"`);
    this.index++;
    return token;
  }

  private fail(token: ProtoToken | undefined, problem: string): never {
    throw new ProtoSyntaxError(this.file.name, token?.line ?? 0, token?.column ?? 0, problem);
  }
}

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

function unescape(text: string): string {
  return text.replace(
    /\\(?:([abfnrtv\\'"?])|[xX]([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))/g,
    (_, simple?: string, hex?: string, octal?: string, u4?: string, u8?: string) => {
      if (simple) return ESCAPES[simple]!;
      const code = hex ? parseInt(hex, 16) : octal ? parseInt(octal, 8) : parseInt(u4 ?? u8!, 16);
      return String.fromCodePoint(code);
    },
  );
}
