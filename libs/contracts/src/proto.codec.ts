import { Root, type Type } from 'protobufjs';
import { isAbsolute, join } from 'node:path';
import type {
  AudioChunk,
  AudioFeatureWindow,
  Detection,
  DetectionSet,
  EdgeEvidence,
  EventEvidence,
  FusionCheckpoint,
  IncidentState,
  SecurityEvent,
  StreamCommand,
  StreamStatus,
  VideoFrame,
  WebhookDeadLetter,
} from './messages';
import type { CanonicalClass, AudioClass, VideoClass, Modality, Severity } from './classes';
import { securityEventMessage } from './event-record.message';
import { protosDir } from './protos.locator';
import { type Topic, Topics } from './topics';

/** Binary encoding of one topic's payload: the bytes on Kafka, and the gRPC message shape. */
export interface Codec<T> {
  readonly typeName: string;
  encode(value: T): Uint8Array;
  /** Throws on bytes that are not this message (the caller dead-letters them). */
  decode(bytes: Uint8Array): T;
}

export class CodecError extends Error {
  constructor(typeName: string, cause: unknown) {
    super(`cannot decode ${typeName}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'CodecError';
  }
}

const PROTO_FILES = [
  'media',
  'features',
  'detections',
  'events',
  'streams',
  'webhooks',
  'fusion',
  'evidence',
].map((f) => join('vigil', 'v1', `${f}.proto`));

type Plain = Record<string, unknown>;

let root: Root | undefined;

/** Imports resolve against the protos root, as protoc's --proto_path and proto-loader do. */
export function loadProtoRoot(dir = protosDir()): Root {
  const loaded = new Root();
  loaded.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  return loaded.loadSync(PROTO_FILES);
}

/** A message type of the loaded protos, resolved, by its full name (`vigil.v1.EventRecord`). */
export function protoType(typeName: string): Type {
  root ??= loadProtoRoot();
  return root.lookupType(typeName);
}

/** Samples and pixels travel as raw little-endian bytes, never as JSON arrays. */
function floatBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function floats(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`float32 payload of ${bytes.byteLength} bytes`);
  // A view when aligned (no copy of a 400 kB window); a copy otherwise.
  return bytes.byteOffset % 4 === 0
    ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
    : new Float32Array(new Uint8Array(bytes).buffer); // Buffer#slice would not copy
}

/** Int16 samples, little-endian like every host Vigil runs on (a view when aligned). */
function int16s(bytes: Uint8Array): Int16Array {
  if (bytes.byteLength % 2 !== 0) throw new Error(`int16 payload of ${bytes.byteLength} bytes`);
  return bytes.byteOffset % 2 === 0
    ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
    : new Int16Array(new Uint8Array(bytes).buffer);
}

function enumValue(prefix: string, value: string): string {
  return `${prefix}_${value.toUpperCase()}`;
}

function enumName<T extends string>(prefix: string, value: unknown): T {
  if (
    typeof value !== 'string' ||
    !value.startsWith(`${prefix}_`) ||
    value.endsWith('_UNSPECIFIED')
  ) {
    throw new Error(`${prefix.toLowerCase()} is ${String(value)}`);
  }
  return value.slice(prefix.length + 1).toLowerCase() as T;
}

function box(values: unknown): [number, number, number, number] | undefined {
  const list = values as number[] | undefined;
  if (!list || list.length === 0) return undefined;
  if (list.length !== 4) throw new Error(`box has ${list.length} values, expected 4`);
  return [list[0], list[1], list[2], list[3]];
}

function codec<T>(
  typeName: string,
  toProto: (value: T) => Plain,
  fromProto: (plain: Plain) => T,
): Codec<T> {
  let type: Type | undefined;
  const get = () => (type ??= protoType(typeName));
  return {
    typeName,
    encode(value) {
      const t = get();
      return t.encode(t.fromObject(toProto(value))).finish();
    },
    decode(bytes) {
      const t = get();
      try {
        const plain = t.toObject(t.decode(bytes), {
          longs: Number,
          enums: String,
          defaults: true,
        }) as Plain;
        // Every stream-keyed message: an empty payload decodes to defaults, which no consumer
        // may take for a message. One check here is every consumer group's check.
        if ('streamId' in plain && !plain.streamId) throw new Error('stream_id is empty');
        return fromProto(plain);
      } catch (error) {
        throw new CodecError(typeName, error);
      }
    },
  };
}

const final = (plain: Plain) => (plain.final ? { final: true } : {});

export const audioChunkCodec = codec<AudioChunk>(
  'vigil.v1.AudioChunk',
  (v) => ({ ...v, samples: floatBytes(v.samples) }),
  (p) => {
    const samples = floats(p.samples as Uint8Array);
    if (!p.final && !((p.sampleRate as number) > 0)) throw new Error('sample_rate is not set');
    if (!p.final && samples.length === 0)
      throw new Error('no samples in a chunk that is not final');
    return {
      streamId: p.streamId as string,
      seq: p.seq as number,
      startSec: p.startSec as number,
      sampleRate: p.sampleRate as number,
      samples,
      ...final(p),
    };
  },
);

export const videoFrameCodec = codec<VideoFrame>(
  'vigil.v1.VideoFrame',
  (v) => ({ ...v, pixelFormat: enumValue('PIXEL_FORMAT', v.pixelFormat) }),
  (p) => {
    const bytes = p.pixels as Uint8Array;
    // A plain view, not protobufjs's Buffer: consumers get exactly the type they publish.
    const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = p.width as number;
    const height = p.height as number;
    const expected = p.final || p.still ? 0 : width * height * 3;
    if (pixels.byteLength !== expected) {
      throw new Error(
        `${pixels.byteLength} pixel bytes for ${p.still ? 'a still ' : ''}${width}x${height}`,
      );
    }
    return {
      streamId: p.streamId as string,
      seq: p.seq as number,
      ptsSec: p.ptsSec as number,
      width,
      height,
      pixels,
      pixelFormat: p.final ? 'bgr24' : enumName('PIXEL_FORMAT', p.pixelFormat),
      geometry: p.geometry as VideoFrame['geometry'],
      ...final(p),
      ...(p.still ? { still: true } : {}),
    };
  },
);

export const featureWindowCodec = codec<AudioFeatureWindow>(
  'vigil.v1.AudioFeatureWindow',
  (v) => ({
    ...v,
    data: floatBytes(v.data),
    yamnetPatch: v.yamnetPatch
      ? new Uint8Array(v.yamnetPatch.buffer, v.yamnetPatch.byteOffset, v.yamnetPatch.byteLength)
      : undefined,
    pcm16k: v.pcm16k
      ? new Uint8Array(v.pcm16k.buffer, v.pcm16k.byteOffset, v.pcm16k.byteLength)
      : undefined,
  }),
  (p) => {
    const data = floats(p.data as Uint8Array);
    const patch = p.yamnetPatch as Uint8Array | undefined;
    const pcm16k = p.pcm16k as Uint8Array | undefined;
    if (data.length !== (p.melBins as number) * (p.frames as number)) {
      throw new Error(`${data.length} values for ${String(p.melBins)}x${String(p.frames)}`);
    }
    return {
      streamId: p.streamId as string,
      seq: p.seq as number,
      startSec: p.startSec as number,
      endSec: p.endSec as number,
      melBins: p.melBins as number,
      frames: p.frames as number,
      data,
      peakSec: p.peakSec as number,
      ...(patch && patch.length > 0
        ? { yamnetPatch: new Int8Array(patch.buffer, patch.byteOffset, patch.byteLength) }
        : {}),
      ...(pcm16k && pcm16k.length > 0 ? { pcm16k: int16s(pcm16k) } : {}),
      ...final(p),
    };
  },
);

function detectionToProto(d: Detection): Plain {
  return { ...d, modality: enumValue('MODALITY', d.modality), box: d.box ?? [] };
}

function detectionFromProto(p: Plain): Detection {
  const b = box(p.box);
  return {
    modality: enumName<Modality>('MODALITY', p.modality),
    cls: p.cls as CanonicalClass,
    score: p.score as number,
    labels: p.labels as string[],
    ...(b ? { box: b } : {}),
  };
}

export const detectionSetCodec = codec<DetectionSet>(
  'vigil.v1.DetectionSet',
  (v) => ({
    ...v,
    modality: enumValue('MODALITY', v.modality),
    detections: v.detections.map(detectionToProto),
  }),
  (p) => ({
    streamId: p.streamId as string,
    modality: enumName<Modality>('MODALITY', p.modality),
    seq: p.seq as number,
    startSec: p.startSec as number,
    endSec: p.endSec as number,
    atSec: p.atSec as number,
    model: p.model as string,
    detections: (p.detections as Plain[]).map(detectionFromProto),
    ...final(p),
  }),
);

function evidenceFromProto(p: Plain): EventEvidence {
  const b = box(p.box);
  return {
    cls: p.cls as CanonicalClass,
    modality: enumName<Modality>('MODALITY', p.modality),
    score: p.score as number,
    atSec: p.atSec as number,
    ...(b ? { box: b } : {}),
    ...(p.streamId ? { streamId: p.streamId as string } : {}),
  };
}

export const securityEventCodec = codec<SecurityEvent>(
  'vigil.v1.SecurityEvent',
  securityEventMessage,
  (p) => ({
    id: p.id as string,
    streamId: p.streamId as string,
    rule: p.rule as string,
    title: p.title as string,
    severity: enumName<Severity>('SEVERITY', p.severity),
    startSec: p.startSec as number,
    endSec: p.endSec as number,
    trigger: p.trigger as AudioClass | VideoClass,
    // Events from before incidents had a lifecycle read as single-version opened incidents.
    incidentId: (p.incidentId as string) || (p.id as string),
    version: (p.version as number) || 1,
    state:
      p.state === 'INCIDENT_STATE_UNSPECIFIED' || p.state === undefined
        ? 'opened'
        : enumName<IncidentState>('INCIDENT_STATE', p.state),
    triggers: ((p.triggers as string[] | undefined)?.length ? p.triggers : [p.trigger]) as (
      AudioClass | VideoClass
    )[],
    evidence: (p.evidence as Plain[]).map(evidenceFromProto),
    ...(p.site ? { site: p.site as string } : {}),
    ...(p.zone ? { zone: p.zone as string } : {}),
    ...((p.cameras as string[] | undefined)?.length ? { cameras: p.cameras as string[] } : {}),
    ...(p.absorbedBy ? { absorbedBy: p.absorbedBy as string } : {}),
  }),
);

export const streamStatusCodec = codec<StreamStatus>(
  'vigil.v1.StreamStatus',
  (v) => ({ ...v, state: enumValue('STREAM_STATE', v.state) }),
  (p) => {
    const status: StreamStatus = {
      streamId: p.streamId as string,
      state: enumName('STREAM_STATE', p.state),
      source: p.source as string,
    };
    // proto3 optional fields: present only when set, like the TypeScript optionals.
    for (const key of ['hasAudio', 'hasVideo', 'decodedSec', 'truncated', 'reason'] as const) {
      if (p[key] !== undefined && p[key] !== null) (status as unknown as Plain)[key] = p[key];
    }
    return status;
  },
);

export const streamCommandCodec = codec<StreamCommand>(
  'vigil.v1.StreamCommand',
  (v) => ({ ...v, action: enumValue('STREAM_ACTION', v.action) }),
  (p) => {
    const action = enumName<'start' | 'stop'>('STREAM_ACTION', p.action);
    const streamId = p.streamId as string;
    if (action === 'stop') return { streamId, action };
    if (!p.source) throw new Error('start without a source');
    const labels = (p.labels ?? {}) as Record<string, string>;
    return {
      streamId,
      action,
      source: p.source as string,
      ...(p.live !== undefined && p.live !== null ? { live: p.live as boolean } : {}),
      ...(p.loop ? { loop: true } : {}),
      ...(p.fps !== undefined && p.fps !== null ? { fps: p.fps as number } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(p.rulesProfile ? { rulesProfile: p.rulesProfile as string } : {}),
      ...((p.models as string[] | undefined)?.length ? { models: p.models as string[] } : {}),
      ...(p.requestId ? { requestId: p.requestId as string } : {}),
    };
  },
);

export const webhookDeadLetterCodec = codec<WebhookDeadLetter>(
  'vigil.v1.WebhookDeadLetter',
  (v) => v as unknown as Plain,
  (p) => {
    const bytes = p.body as Uint8Array;
    const letter: WebhookDeadLetter = {
      subscriptionId: p.subscriptionId as string,
      url: p.url as string,
      eventId: p.eventId as string,
      attempts: p.attempts as number,
      reason: p.reason as string,
      // A plain view, not protobufjs's Buffer, like the pixels of a frame.
      body: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      failedAtMs: p.failedAtMs as number,
      deliveryId: p.deliveryId as string,
    };
    if (p.lastStatus !== undefined && p.lastStatus !== null) {
      letter.lastStatus = p.lastStatus as number;
    }
    return letter;
  },
);

/** The engine's state rides as opaque JSON bytes: its shape is fusion's private business. */
export const fusionCheckpointCodec = codec<FusionCheckpoint>(
  'vigil.v1.FusionCheckpoint',
  (v) => ({
    ...v,
    state: v.state === null ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(v.state)),
  }),
  (p) => {
    const state = p.state as Uint8Array;
    return {
      streamId: p.streamId as string,
      profile: p.profile as string,
      partition: p.partition as number,
      offset: p.offset as number,
      state:
        state.byteLength === 0
          ? null
          : (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(state)) as unknown),
    };
  },
);

/** Artifacts' bytes are plain views, not protobufjs's Buffers, like the pixels of a frame. */
export const edgeEvidenceCodec = codec<EdgeEvidence>(
  'vigil.v1.EdgeEvidence',
  (v) => v as unknown as Plain,
  (p) => ({
    eventId: p.eventId as string,
    incidentId: p.incidentId as string,
    version: p.version as number,
    streamId: p.streamId as string,
    ...(p.momentId ? { momentId: p.momentId as string } : {}),
    artifacts: (p.artifacts as Plain[]).map((a) => {
      const data = a.data as Uint8Array;
      return {
        name: a.name as string,
        contentType: a.contentType as string,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    }),
  }),
);

const CODECS: Record<string, unknown> = {
  [Topics.audio.name]: audioChunkCodec,
  [Topics.video.name]: videoFrameCodec,
  [Topics.features.name]: featureWindowCodec,
  [Topics.detections.name]: detectionSetCodec,
  [Topics.events.name]: securityEventCodec,
  [Topics.streamStatus.name]: streamStatusCodec,
  [Topics.streamCommands.name]: streamCommandCodec,
  [Topics.webhookDeadLetters.name]: webhookDeadLetterCodec,
  [Topics.fusionState.name]: fusionCheckpointCodec,
  [Topics.edgeEvidence.name]: edgeEvidenceCodec,
};

/** The codec of a topic's payload; dead-letter topics carry the original bytes untouched. */
export function codecFor<T>(topic: Topic<T>): Codec<T> {
  const found = CODECS[topic.name];
  if (!found) throw new Error(`no codec for topic ${topic.name}`);
  return found as unknown as Codec<T>;
}
