import type { Bus, BusMessage, Subscription } from '@app/bus';
import {
  type AudioChunk,
  type AudioFeatureWindow,
  type Detection,
  type DetectionSet,
  type SecurityEvent,
  type VideoFrame,
  Topics,
} from '@app/contracts';
import { type EvidenceRequest, type PcmClip, type SnapshotBox, triggerSec } from '@app/evidence';
import { isAnalysisOrigin } from './stream-headers';
import { type Sleeper, realSleeper } from './stream.supervisor';

export interface EvidenceTapOptions {
  /** Consumer group on every topic the tap reads; default 'vigil-evidence'. */
  group?: string;
  /** Stream seconds of frames kept per stream, behind what fusion has decided; default 10. */
  videoSec?: number;
  /** Stream seconds of PCM and of feature windows kept per stream; default 10. */
  audioSec?: number;
  /** Payload bytes kept across all streams; beyond it the oldest media go first. Default 128 MiB. */
  maxBytes?: number;
  /** How long a stream's media stay after its last end marker, for events decided late; default 30 s. */
  releaseAfterMs?: number;
  /** A frame further than this from the moment wanted is not evidence of it; default 1 s. */
  maxFrameGapSec?: number;
  sleeper?: Sleeper;
}

export interface CaptureOptions {
  /** How long to wait for the tap to see the media the event needs; then it takes what it has. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export const EVIDENCE_TAP_GROUP = 'vigil-evidence';
export const DEFAULT_TAP_MAX_BYTES = 128 * 1024 * 1024;
/** Released streams remembered, so a capture for one answers at once instead of waiting it out. */
const RELEASED_MEMORY = 1024;

type MediaKind = 'video' | 'features' | 'audio';
const KINDS: readonly MediaKind[] = ['video', 'features', 'audio'];

interface Entry<T> {
  value: T;
  startSec: number;
  endSec: number;
  bytes: number;
  /** Arrival order across all streams: the global byte budget drops the smallest first. */
  arrival: number;
  /** Frames only: what inference saw on it, once its detection set has arrived. */
  detections?: readonly Detection[];
}

class MediaRing<T> {
  entries: Entry<T>[] = [];
  /** Furthest stream time seen: how far this modality is known. */
  newestStartSec = -Infinity;
  newestEndSec = -Infinity;
  /** The end marker arrived: nothing more is coming for this run of the stream. */
  ended = false;

  get bytes(): number {
    return this.entries.reduce((sum, entry) => sum + entry.bytes, 0);
  }
}

interface DecidedPosition {
  sec: number;
  ended: boolean;
}

interface StreamMedia {
  video: MediaRing<VideoFrame>;
  features: MediaRing<AudioFeatureWindow>;
  audio: MediaRing<AudioChunk>;
  /** How far detections (and so fusion) got per modality: no event can need media far before it. */
  decided: { audio?: DecidedPosition; video?: DecidedPosition };
  release?: AbortController;
}

/**
 * Keeps each stream's recent frames, feature windows and PCM so an incident's evidence can be
 * cut from them once fusion decides it. Memory is bounded twice: per stream by stream seconds,
 * counted back from what fusion has decided (a file source's ingest runs far ahead of inference),
 * and across streams by a byte budget, oldest first.
 *
 * Media are kept by reference: the decoder hands every frame a buffer of its own and the memory
 * bus passes objects through, so nothing is copied unless a payload is a view into a larger
 * buffer (Kafka's fetch buffers), which would otherwise pin far more than the budget counts.
 */
export class EvidenceTap {
  private readonly streams = new Map<string, StreamMedia>();
  private readonly released = new Set<string>();
  private readonly waiters = new Map<string, Set<() => boolean>>();
  private readonly subscriptions: Subscription[] = [];
  private readonly stopped = new AbortController();
  private readonly group: string;
  private readonly keepSec: Record<MediaKind, number>;
  private readonly maxBytes: number;
  private readonly releaseAfterMs: number;
  private readonly maxFrameGapSec: number;
  private readonly sleeper: Sleeper;
  private arrivals = 0;
  private totalBytes = 0;

  constructor(
    private readonly bus: Bus,
    options: EvidenceTapOptions = {},
  ) {
    this.group = options.group ?? EVIDENCE_TAP_GROUP;
    const videoSec = positive(options.videoSec ?? 10, 'videoSec');
    const audioSec = positive(options.audioSec ?? 10, 'audioSec');
    this.keepSec = { video: videoSec, features: audioSec, audio: audioSec };
    this.maxBytes = positive(options.maxBytes ?? DEFAULT_TAP_MAX_BYTES, 'maxBytes');
    this.releaseAfterMs = positive(options.releaseAfterMs ?? 30_000, 'releaseAfterMs');
    this.maxFrameGapSec = positive(options.maxFrameGapSec ?? 1, 'maxFrameGapSec');
    this.sleeper = options.sleeper ?? realSleeper;
  }

  async start(): Promise<void> {
    // 'latest': after a restart, media from before it are no use to any event still to come.
    const from = { startFrom: 'latest' as const };
    // A clip analysis's incidents are never recorded: its media must not take the budget.
    const live =
      <T>(handle: (message: BusMessage<T>) => void) =>
      async (message: BusMessage<T>) => {
        if (!isAnalysisOrigin(message.headers)) handle(message);
      };
    this.subscriptions.push(
      await this.bus.subscribe(
        Topics.video,
        this.group,
        live((m) => this.onFrame(m)),
        from,
      ),
      await this.bus.subscribe(
        Topics.features,
        this.group,
        live((m) => this.onWindow(m)),
        from,
      ),
      await this.bus.subscribe(
        Topics.audio,
        this.group,
        live((m) => this.onChunk(m)),
        from,
      ),
      await this.bus.subscribe(
        Topics.detections,
        this.group,
        live((m) => this.onSet(m)),
        from,
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
    this.stopped.abort();
    for (const stream of this.streams.values()) stream.release?.abort();
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }

  /** Payload bytes held across all streams. */
  get bufferedBytes(): number {
    return this.totalBytes;
  }

  /** Stream seconds each buffer of a stream spans right now, for operators and tests. */
  buffered(
    streamId: string,
  ): Record<MediaKind, { count: number; fromSec?: number; toSec?: number }> {
    const stream = this.streams.get(streamId);
    const span = (ring?: MediaRing<unknown>) => ({
      count: ring?.entries.length ?? 0,
      fromSec: ring?.entries[0]?.startSec,
      toSec: ring?.entries.at(-1)?.endSec,
    });
    return {
      video: span(stream?.video),
      features: span(stream?.features),
      audio: span(stream?.audio),
    };
  }

  /**
   * What the event's evidence is made of: the frame that matched (the one its box was drawn on,
   * else the one nearest the trigger), the feature window the trigger was heard in, and that
   * window's sound. Waits up to `timeoutMs` for the tap to have seen that far, since its
   * subscriptions may lag fusion's decision; after that, takes what it has.
   */
  async capture(event: SecurityEvent, options: CaptureOptions): Promise<EvidenceRequest> {
    const expired = new AbortController();
    const timer = new AbortController();
    const expire = () => expired.abort();
    options.signal?.addEventListener('abort', expire, { once: true });
    if (options.signal?.aborted) expire();
    void this.sleeper.sleep(options.timeoutMs, timer.signal).then(expire);
    try {
      const heardSec = triggerSec(event);
      const seenSec = frameSec(event);
      const id = event.streamId;
      await this.until(
        id,
        (s) =>
          reached(s.video, seenSec) &&
          windowsDone(s.features, heardSec) &&
          // The frame at the trigger is only worth its boxes once inference has seen it.
          decidedPast(s.decided.video, heardSec),
        expired.signal,
      );
      const window = this.pickWindow(id, heardSec);
      if (window) {
        await this.until(id, (s) => reached(s.audio, window.endSec), expired.signal);
      }
      const snapshot = this.pickSnapshot(event, heardSec, seenSec);
      const clip = window && this.cut(id, window.startSec, window.endSec);
      return {
        event,
        ...snapshot,
        ...(window ? { audioWindow: window } : {}),
        ...(clip ? { audioClip: clip } : {}),
      };
    } finally {
      timer.abort();
      options.signal?.removeEventListener('abort', expire);
    }
  }

  private onFrame({ value: frame }: BusMessage<VideoFrame>): void {
    if (frame.final) return this.end(frame.streamId, 'video');
    if (frame.still) return this.onStillFrame(frame);
    const pixels = owned(frame.pixels);
    const kept = pixels === frame.pixels ? frame : { ...frame, pixels };
    this.add(frame.streamId, 'video', kept, frame.ptsSec, frame.ptsSec, pixels.byteLength);
  }

  /**
   * Nothing moved since the stream's last frame with pixels: this moment looks like that frame,
   * so it is kept with those very pixels. Shared, they add no bytes; should the frame that owns
   * them leave the ring first, one frame per stream goes uncounted, no more. Without one (the tap
   * joined the stream after it, or the stream started over) there is nothing to show for it.
   */
  private onStillFrame(frame: VideoFrame): void {
    const ring = this.streams.get(frame.streamId)?.video;
    const last = ring && !ring.ended ? ring.entries.at(-1)?.value : undefined;
    if (!last) return;
    const { still: _still, ...shown } = { ...frame, pixels: last.pixels };
    this.add(frame.streamId, 'video', shown, frame.ptsSec, frame.ptsSec, 0);
  }

  private onWindow({ value: window }: BusMessage<AudioFeatureWindow>): void {
    if (window.final) return this.end(window.streamId, 'features');
    const data = owned(window.data);
    const kept = data === window.data ? window : { ...window, data };
    this.add(window.streamId, 'features', kept, window.startSec, window.endSec, data.byteLength);
  }

  private onChunk({ value: chunk }: BusMessage<AudioChunk>): void {
    if (chunk.final) return this.end(chunk.streamId, 'audio');
    const samples = owned(chunk.samples);
    const kept = samples === chunk.samples ? chunk : { ...chunk, samples };
    const endSec = chunk.startSec + samples.length / chunk.sampleRate;
    this.add(chunk.streamId, 'audio', kept, chunk.startSec, endSec, samples.byteLength);
  }

  private onSet({ value: set }: BusMessage<DetectionSet>): void {
    const stream = this.streams.get(set.streamId);
    if (!stream) return;
    if (set.modality === 'video' && !set.final) {
      const entries = stream.video.entries;
      for (let i = entries.length - 1; i >= 0; i--) {
        if (Math.abs(entries[i].startSec - set.atSec) < 1e-6) {
          entries[i].detections = set.detections;
          break;
        }
      }
    }
    const previous = stream.decided[set.modality];
    if (set.final) {
      stream.decided[set.modality] = { sec: previous?.sec ?? -Infinity, ended: true };
    } else {
      // After an end, a set starts a new run of the stream, whose clock starts again.
      const sec = previous && !previous.ended ? Math.max(previous.sec, set.endSec) : set.endSec;
      stream.decided[set.modality] = { sec, ended: false };
    }
    this.trim(stream);
    this.notify(set.streamId);
  }

  private add<T>(
    streamId: string,
    kind: MediaKind,
    value: T,
    startSec: number,
    endSec: number,
    bytes: number,
  ): void {
    const stream = this.streamOf(streamId);
    const ring = stream[kind] as MediaRing<T>;
    if (ring.ended) {
      // Media after an end marker: the same stream id started again (a file analysed twice),
      // with its clock back at zero; the old run's media would be mistaken for the new one's.
      this.totalBytes -= ring.bytes;
      stream[kind] = new MediaRing() as never;
      stream.release?.abort();
      stream.release = undefined;
      return this.add(streamId, kind, value, startSec, endSec, bytes);
    }
    ring.entries.push({ value, startSec, endSec, bytes, arrival: this.arrivals++ });
    ring.newestStartSec = Math.max(ring.newestStartSec, startSec);
    ring.newestEndSec = Math.max(ring.newestEndSec, endSec);
    this.totalBytes += bytes;
    this.trim(stream);
    this.enforceBudget();
    this.notify(streamId);
  }

  private end(streamId: string, kind: MediaKind): void {
    const stream = this.streamOf(streamId);
    stream[kind].ended = true;
    this.notify(streamId);
    if (KINDS.every((k) => stream[k].ended)) this.scheduleRelease(streamId, stream);
  }

  private scheduleRelease(streamId: string, stream: StreamMedia): void {
    stream.release?.abort();
    const release = new AbortController();
    stream.release = release;
    void this.sleeper.sleep(this.releaseAfterMs, release.signal).then(() => {
      if (release.signal.aborted || this.streams.get(streamId) !== stream) return;
      for (const kind of KINDS) this.totalBytes -= stream[kind].bytes;
      this.streams.delete(streamId);
      this.released.add(streamId);
      if (this.released.size > RELEASED_MEMORY) {
        this.released.delete(this.released.values().next().value!);
      }
      this.notify(streamId);
    });
  }

  /** Drops what no event can still need: media older than the kept span behind fusion's position. */
  private trim(stream: StreamMedia): void {
    const decided = Math.min(position(stream.decided.audio), position(stream.decided.video));
    for (const kind of KINDS) {
      const ring = stream[kind];
      const horizon = Math.min(ring.newestEndSec, decided) - this.keepSec[kind];
      while (ring.entries.length > 0 && ring.entries[0].endSec < horizon) {
        this.totalBytes -= ring.entries.shift()!.bytes;
      }
    }
  }

  private enforceBudget(): void {
    while (this.totalBytes > this.maxBytes) {
      let oldest: MediaRing<unknown> | undefined;
      for (const stream of this.streams.values()) {
        for (const kind of KINDS) {
          const head = stream[kind].entries[0];
          if (head && (!oldest || head.arrival < oldest.entries[0].arrival)) oldest = stream[kind];
        }
      }
      if (!oldest) return;
      this.totalBytes -= oldest.entries.shift()!.bytes;
    }
  }

  private streamOf(streamId: string): StreamMedia {
    let stream = this.streams.get(streamId);
    if (!stream) {
      stream = {
        video: new MediaRing(),
        features: new MediaRing(),
        audio: new MediaRing(),
        decided: {},
      };
      this.streams.set(streamId, stream);
      this.released.delete(streamId);
    }
    return stream;
  }

  /** Resolves once `covered` holds, the stream was released, the tap stopped, or `signal` aborts. */
  private until(
    streamId: string,
    covered: (stream: StreamMedia) => boolean,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const stream = this.streams.get(streamId);
        const done =
          signal.aborted ||
          this.stopped.signal.aborted ||
          (stream ? covered(stream) : this.released.has(streamId));
        if (done) {
          signal.removeEventListener('abort', onAbort);
          const set = this.waiters.get(streamId);
          set?.delete(check);
          if (set?.size === 0) this.waiters.delete(streamId);
          resolve();
        }
        return done;
      };
      const onAbort = () => void check();
      if (check()) return;
      const set = this.waiters.get(streamId) ?? new Set();
      set.add(check);
      this.waiters.set(streamId, set);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notify(streamId: string): void {
    const set = this.waiters.get(streamId);
    if (set) for (const check of [...set]) check();
  }

  /**
   * The picture an operator wants: the moment the rule fired (the glass breaking), with what
   * inference saw on that very frame — the event's own classes when it has video evidence. Only
   * when no such frame is at hand, the frame its video evidence was seen on, with that box.
   */
  private pickSnapshot(
    event: SecurityEvent,
    momentSec: number,
    seenSec: number,
  ): { frame?: VideoFrame; boxes?: SnapshotBox[] } {
    const classes = new Set<string>(
      event.evidence.filter((e) => e.modality === 'video').map((e) => e.cls),
    );
    let best: Entry<VideoFrame> | undefined;
    for (const entry of this.streams.get(event.streamId)?.video.entries ?? []) {
      if (!entry.detections) continue;
      if (classes.size > 0 && !entry.detections.some((d) => classes.has(d.cls))) continue;
      if (!best || Math.abs(entry.startSec - momentSec) < Math.abs(best.startSec - momentSec)) {
        best = entry;
      }
    }
    if (best && Math.abs(best.startSec - momentSec) <= this.maxFrameGapSec) {
      const boxes = best
        .detections!.filter((d) => d.box && (classes.size === 0 || classes.has(d.cls)))
        .map((d) => ({ box: d.box!, label: d.cls, score: d.score }));
      return { frame: best.value, boxes };
    }
    const frame = this.pickFrame(event.streamId, seenSec);
    return frame ? { frame } : {};
  }

  private pickFrame(streamId: string, atSec: number): VideoFrame | undefined {
    let best: Entry<VideoFrame> | undefined;
    for (const entry of this.streams.get(streamId)?.video.entries ?? []) {
      if (!best || Math.abs(entry.startSec - atSec) < Math.abs(best.startSec - atSec)) best = entry;
    }
    return best && Math.abs(best.startSec - atSec) <= this.maxFrameGapSec ? best.value : undefined;
  }

  /** Of the windows that contain the moment, the one whose loudest frame is nearest it. */
  private pickWindow(streamId: string, atSec: number): AudioFeatureWindow | undefined {
    const containing = (this.streams.get(streamId)?.features.entries ?? [])
      .map((entry) => entry.value)
      .filter((w) => w.startSec <= atSec && atSec <= w.endSec);
    const centre = (w: AudioFeatureWindow) => Math.abs((w.startSec + w.endSec) / 2 - atSec);
    const peak = (w: AudioFeatureWindow) => Math.abs(w.peakSec - atSec);
    return containing.reduce<AudioFeatureWindow | undefined>(
      (best, w) =>
        !best || peak(w) < peak(best) || (peak(w) === peak(best) && centre(w) < centre(best))
          ? w
          : best,
      undefined,
    );
  }

  /** The PCM of [fromSec, toSec], as much of it as is still buffered. */
  private cut(streamId: string, fromSec: number, toSec: number): PcmClip | undefined {
    const chunks = (this.streams.get(streamId)?.audio.entries ?? []).filter(
      (entry) => entry.endSec > fromSec && entry.startSec < toSec,
    );
    if (chunks.length === 0) return undefined;
    const sampleRate = chunks[0].value.sampleRate;
    const start = Math.max(fromSec, chunks[0].startSec);
    const length = Math.round((Math.min(toSec, chunks.at(-1)!.endSec) - start) * sampleRate);
    if (length <= 0) return undefined;
    const samples = new Float32Array(length);
    for (const { value, startSec } of chunks) {
      const at = Math.round((startSec - start) * sampleRate);
      const skip = Math.max(0, -at);
      const take = Math.min(value.samples.length - skip, length - Math.max(0, at));
      if (take > 0) samples.set(value.samples.subarray(skip, skip + take), Math.max(0, at));
    }
    return { samples, sampleRate };
  }
}

/** The frame the event's box was seen on; the trigger moment when it has none. */
function frameSec(event: SecurityEvent): number {
  const video =
    event.evidence.find((e) => e.modality === 'video' && e.box) ??
    event.evidence.find((e) => e.modality === 'video');
  return video?.atSec ?? triggerSec(event);
}

/**
 * Inference (and so the frame's detections) got past `sec`, or reported the end of the video.
 * A stream whose frames inference has not reported on at all is not waited for: its snapshot
 * falls back to the frame the event's own evidence names. Not the media ring's end: ingest
 * finishes a file long before inference does.
 */
function decidedPast(decided: DecidedPosition | undefined, sec: number): boolean {
  return decided === undefined || decided.ended || decided.sec >= sec;
}

function reached(ring: MediaRing<unknown>, sec: number): boolean {
  return ring.ended || ring.newestEndSec >= sec;
}

/** Every window containing `sec` has arrived once one starting after it has (they come in order). */
function windowsDone(ring: MediaRing<unknown>, sec: number): boolean {
  return ring.ended || ring.newestStartSec > sec;
}

function position(decided: DecidedPosition | undefined): number {
  return !decided || decided.ended ? Infinity : decided.sec;
}

/** The array itself when it owns its memory; a compact copy when it is a view into more. */
function owned<T extends Uint8Array | Float32Array>(view: T): T {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
  return view.slice() as T;
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number (got ${value})`);
  }
  return value;
}
