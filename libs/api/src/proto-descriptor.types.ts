/**
 * google.protobuf.FileDescriptorProto and its parts as plain objects, with protobufjs's field
 * names (`protobufjs/ext/descriptor` encodes them); only what a proto3 file can declare.
 */

export interface SourceLocation {
  path: number[];
  /** [start line, start column, end line, end column], zero-based; 3 numbers on one line. */
  span: number[];
  leadingComments?: string;
  trailingComments?: string;
  leadingDetachedComments?: string[];
}

export type DescriptorOptions = Record<string, unknown>;

export interface FieldDescriptor {
  name: string;
  number: number;
  label: number;
  type?: number;
  typeName?: string;
  jsonName: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
  options?: DescriptorOptions;
}

export interface OneofDescriptor {
  name: string;
  options?: DescriptorOptions;
}

export interface EnumValueDescriptor {
  name: string;
  number: number;
  options?: DescriptorOptions;
}

export interface EnumDescriptor {
  name: string;
  value: EnumValueDescriptor[];
  options?: DescriptorOptions;
  reservedRange: { start: number; end: number }[];
  reservedName: string[];
}

export interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  enumType: EnumDescriptor[];
  oneofDecl: OneofDescriptor[];
  options?: DescriptorOptions;
  reservedRange: { start: number; end: number }[];
  reservedName: string[];
}

export interface MethodDescriptor {
  name: string;
  inputType: string;
  outputType: string;
  clientStreaming?: boolean;
  serverStreaming?: boolean;
  options?: DescriptorOptions;
}

export interface ServiceDescriptor {
  name: string;
  method: MethodDescriptor[];
  options?: DescriptorOptions;
}

export interface FileDescriptor {
  /** The import path ("vigil/v1/streams.proto"), as other files and reflection clients name it. */
  name: string;
  package?: string;
  dependency: string[];
  publicDependency: number[];
  weakDependency: number[];
  messageType: MessageDescriptor[];
  enumType: EnumDescriptor[];
  service: ServiceDescriptor[];
  options?: DescriptorOptions;
  sourceCodeInfo: { location: SourceLocation[] };
  syntax: string;
}

/** FieldDescriptorProto.Type */
export const FIELD_TYPE = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  message: 11,
  bytes: 12,
  uint32: 13,
  enum: 14,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
} as const;

/** FieldDescriptorProto.Label */
export const FIELD_LABEL = { optional: 1, repeated: 3 } as const;

/** Field numbers in descriptor.proto: the steps of a SourceCodeInfo path. */
export const DESCRIPTOR_PATH = {
  file: { package: 2, dependency: 3, messageType: 4, enumType: 5, service: 6, syntax: 12 },
  message: { field: 2, nestedType: 3, enumType: 4, oneofDecl: 8 },
  enum: { value: 2 },
  service: { method: 2 },
} as const;
