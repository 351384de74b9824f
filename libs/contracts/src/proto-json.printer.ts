import { type Field, type IConversionOptions, Type } from 'protobufjs';
import { protoType } from './proto.codec';

type Json = Record<string, unknown>;

const JSON_OPTIONS: IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: true,
  json: true,
};

/**
 * A message in the proto3 JSON mapping, written as protobuf's own printers write it with
 * default values included: lowerCamelCase names in field-number order, enums by name, 64-bit
 * integers as strings, bytes as base64, map keys sorted, and `float` fields at their 32-bit
 * precision. The object goes through the binary encoding first, so the JSON holds exactly what
 * a gRPC client of the same message receives: a field the message lacks is dropped, and a
 * `float` score of 0.91 prints as 0.91 (not the 0.9100000262260437 its double would).
 */
export function toProtoJson(message: string | Type, plain: Json): Json {
  const type = typeof message === 'string' ? protoType(message) : message;
  const wire = type.decode(type.encode(type.fromObject(plain)).finish());
  return ordered(type, type.toObject(wire, JSON_OPTIONS));
}

function ordered(type: Type, json: Json): Json {
  const out: Json = {};
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    if (json[field.name] === undefined) continue;
    out[field.name] = fieldValue(field.resolve(), json[field.name]);
  }
  return out;
}

function fieldValue(field: Field, value: unknown): unknown {
  const one = (item: unknown): unknown =>
    field.resolvedType instanceof Type
      ? ordered(field.resolvedType, item as Json)
      : field.type === 'float'
        ? float32(item)
        : item;
  if (field.map) {
    const entries = Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, item]) => [key, one(item)]));
  }
  return field.repeated ? (value as unknown[]).map(one) : one(value);
}

/** The shortest decimal that reads back as the same 32-bit float, as protobuf prints a float. */
export function float32(value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value)) return value;
  const single = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const shorter = Number(single.toPrecision(digits));
    if (Math.fround(shorter) === single) return shorter;
  }
  return Number(single.toPrecision(9));
}
