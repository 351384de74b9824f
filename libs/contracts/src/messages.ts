import type { AudioClass, CanonicalClass, Modality, Severity, VideoClass } from './classes';

/**
 * Messages that flow between stages. Times are stream seconds (0 = first decoded sample or
 * frame), so the same input always yields the same messages whatever the wall clock says.
 * Every message carries `streamId`, the bus key that keeps one stream's messages in order.
 *
 * `final` marks the last message of a stream on a topic: it travels on the same partition as
 * the data, so a consumer knows the stream is complete without relying on cross-topic order.
 */

/** Mono float32 PCM at the audio model's rate. */
export interface AudioChunk {
  streamId: string;
  seq: number;
  startSec: number;
  sampleRate: number;
  samples: Float32Array;
  final?: boolean;
}

/**
 * Where the model-sized picture sits in the source frame:
 * model_x = source_x * scaleX + padX (and likewise for y).
 */
export interface FrameGeometry {
  sourceWidth: number;
  sourceHeight: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

/** One decoded frame, already resized by ffmpeg to the detector's input size. */
export interface VideoFrame {
  streamId: string;
  seq: number;
  ptsSec: number;
  width: number;
  height: number;
  /** Interleaved 8-bit pixels, `pixelFormat` order, row-major, width*height*3 bytes; none when `still`. */
  pixels: Uint8Array;
  pixelFormat: 'bgr24' | 'rgb24';
  geometry: FrameGeometry;
  final?: boolean;
  /**
   * Nothing moved since this stream's last frame with pixels (motion gating at ingest): what was
   * in view then still is, so the frame carries no pixels. Its time still counts: the detector's
   * last boxes hold for it, and evidence shows the last frame with pixels.
   */
  still?: boolean;
}

/** One classifier input: a log-mel window, mel-major (melBins rows × frames columns). */
export interface AudioFeatureWindow {
  streamId: string;
  seq: number;
  startSec: number;
  endSec: number;
  melBins: number;
  frames: number;
  data: Float32Array;
  /** Stream time of the loudest frame in the window: where an impulsive event most likely is. */
  peakSec: number;
  /**
   * YAMNet's input patch centred on the window (96 × 64 int8 codes, frame-major), where a
   * YAMNet runs beside the tagger as a second opinion.
   */
  yamnetPatch?: Int8Array;
  /**
   * The 2 s of audio ending with the window, at 16 kHz (int16), where a companion that holds
   * its own front end (CED-Tiny) runs beside the tagger.
   */
  pcm16k?: Int16Array;
  final?: boolean;
}

export interface Detection {
  modality: Modality;
  cls: CanonicalClass;
  score: number;
  /** The model labels that contributed, best first. */
  labels: string[];
  /** Pixel box in the source frame, [x1, y1, x2, y2]; video only. */
  box?: [number, number, number, number];
}

/**
 * What inference saw in one audio window or one frame. Sent even when nothing was found, so
 * fusion knows which stretches of time each modality covered ("nobody in view" needs proof).
 */
export interface DetectionSet {
  streamId: string;
  modality: Modality;
  seq: number;
  startSec: number;
  endSec: number;
  /** Best estimate of when the detections happened inside [startSec, endSec]. */
  atSec: number;
  model: string;
  detections: Detection[];
  final?: boolean;
}

export interface EventEvidence {
  cls: CanonicalClass;
  modality: Modality;
  score: number;
  atSec: number;
  box?: [number, number, number, number];
  /** The camera it was heard or seen on, in site incidents (whose cameras differ); else absent. */
  streamId?: string;
}

/** An incident an operator may act on. `id` is deterministic: same input, same id. */
/**
 * Fusion's own changelog (fusion.proto): the rules engine's state of one stream after the set
 * at `offset` of its detections partition, so a replica that takes the stream over (after a
 * crash or a rebalance) goes on from there. `state` is null once the stream ended; its shape
 * is opaque here.
 */
export interface FusionCheckpoint {
  streamId: string;
  /** The rules profile the stream is decided with. */
  profile: string;
  partition: number;
  offset: number;
  state: unknown;
}

/**
 * An incident version's evidence rendered on an edge node (evidence.proto): the files an
 * operator gets, made where the media are, so the media never leave the site.
 */
export interface EdgeEvidence {
  /** The incident version it belongs to (SecurityEvent.id). */
  eventId: string;
  incidentId: string;
  version: number;
  streamId: string;
  artifacts: EvidenceArtifact[];
  /** The moment its version was triggered (triggerMomentId); empty from edges before it. */
  momentId?: string;
}

export interface EvidenceArtifact {
  /** `snapshot.jpg`, `spectrogram.png` or `audio.wav`. */
  name: string;
  contentType: string;
  data: Uint8Array;
}

export const INCIDENT_STATES = ['opened', 'updated', 'escalated', 'closed'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/** One version of an incident (see events.proto for the lifecycle). */
export interface SecurityEvent {
  /** This version's id. */
  id: string;
  incidentId: string;
  /** 1 when opened, +1 per change. */
  version: number;
  state: IncidentState;
  streamId: string;
  /** The incident's current (highest-ranked) rule. */
  rule: string;
  title: string;
  severity: Severity;
  startSec: number;
  endSec: number;
  /** The class whose firing made this version; a closing version keeps the previous one. */
  trigger: AudioClass | VideoClass;
  /** Every class that triggered the incident, in order of first firing. */
  triggers: (AudioClass | VideoClass)[];
  /** This version's trigger (and its confirmation) first, then earlier ones. */
  evidence: EventEvidence[];
  /** The site of a site rule's incident, or of the camera of a per-camera one; absent outside sites. */
  site?: string;
  /** The zone of a zone rule's incident. */
  zone?: string;
  /**
   * A site rule's incident: the cameras involved, earliest first (`streamId` is the first).
   * Absent on per-camera incidents.
   */
  cameras?: string[];
  /**
   * A per-camera incident that a site incident took in (the same sound heard by several
   * cameras): its versions are recorded, but operators hear of the site incident only.
   */
  absorbedBy?: string;
}

/**
 * Operators hear of an incident when it opens and when it escalates, never on updates or
 * closing, nor of a camera's incident a site incident absorbed (they hear of that one).
 */
export function isNotification(event: Pick<SecurityEvent, 'state' | 'absorbedBy'>): boolean {
  return (event.state === 'opened' || event.state === 'escalated') && !event.absorbedBy;
}

/**
 * `starting`: accepted, its source not opened yet (a camera that never answers goes on to
 * `failed` with the reason); `stalled`: no detections for a while without an end of stream
 * (fusion says so).
 */
export type StreamState = 'starting' | 'started' | 'reconnecting' | 'stalled' | 'ended' | 'failed';

export interface StreamStatus {
  streamId: string;
  state: StreamState;
  /** Redacted source address. */
  source: string;
  hasAudio?: boolean;
  hasVideo?: boolean;
  /** Stream seconds decoded so far (final value when ended). */
  decodedSec?: number;
  /** The container promised more than could be decoded: the input was cut short. */
  truncated?: boolean;
  reason?: string;
}

/** Published on `vigil.streams.commands` by the CLI or the API; ingest acts on it. */
export type StreamCommand =
  | {
      streamId: string;
      action: 'start';
      source: string;
      live?: boolean;
      fps?: number;
      labels?: Record<string, string>;
      rulesProfile?: string;
      /** Model names; all when absent. */
      models?: string[];
      /** A file plays again from the start when it ends, each pass its own run. */
      loop?: boolean;
      /** The caller's idempotency key: a start carrying one a run already has is applied once. */
      requestId?: string;
    }
  | { streamId: string; action: 'stop' };

/**
 * A webhook delivery given up on, published on `vigil.webhooks.dlq`. `body` is the exact JSON
 * that was signed and posted; `url` is redacted (no userinfo, query or fragment).
 */
export interface WebhookDeadLetter {
  subscriptionId: string;
  url: string;
  eventId: string;
  attempts: number;
  reason: string;
  /** The last HTTP status received; absent when the last attempt got no answer. */
  lastStatus?: number;
  body: Uint8Array;
  failedAtMs: number;
  /** X-Vigil-Delivery-Id of its attempts: one per (subscription, event). */
  deliveryId: string;
}
