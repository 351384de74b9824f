import type { SecurityEvent } from '@app/contracts';
import type { EvidenceRef, EvidenceStore } from './evidence.store';
import { ImageFileEncoder } from './image.encoder';
import { FfmpegRunner, type FfmpegRunnerOptions } from './ffmpeg.runner';
import {
  SnapshotRenderer,
  type SnapshotBox,
  type SnapshotFrame,
  type SnapshotOptions,
} from './snapshot.renderer';
import { SpectrogramRenderer, type SpectrogramSource } from './spectrogram.renderer';
import { formatTime } from './time-axis.layout';
import { encodeWav } from './wav.encoder';

export type ArtifactKind = 'snapshot' | 'spectrogram' | 'audio';

/** Fixed names, so a viewer finds an event's evidence without a lookup. */
export const ARTIFACT_FILES: Readonly<Record<ArtifactKind, { name: string; contentType: string }>> =
  {
    snapshot: { name: 'snapshot.jpg', contentType: 'image/jpeg' },
    spectrogram: { name: 'spectrogram.png', contentType: 'image/png' },
    audio: { name: 'audio.wav', contentType: 'audio/wav' },
  };

/** Mono float PCM in [-1, 1] (an AudioChunk fits). */
export interface PcmClip {
  samples: Float32Array;
  sampleRate: number;
}

export interface EvidenceRequest {
  event: SecurityEvent;
  /** The frame that matched; `ptsSec` picks which of the event's boxes belong on it. */
  frame?: SnapshotFrame & { ptsSec?: number };
  /** What was detected on that very frame; drawn instead of the event's boxes when given. */
  boxes?: SnapshotBox[];
  /** The log-mel window that matched (an AudioFeatureWindow fits). */
  audioWindow?: SpectrogramSource;
  audioClip?: PcmClip;
}

export interface ArtifactFailure {
  kind: ArtifactKind;
  error: Error;
}

export interface EvidenceWriteResult {
  refs: Partial<Record<ArtifactKind, EvidenceRef>>;
  /** One entry per artifact that was asked for (its input was given) and could not be stored. */
  errors: ArtifactFailure[];
}

export interface EvidenceWriterOptions {
  /** Feature hop in seconds; default 0.01. */
  frameSec?: number;
  /** Video evidence within this many seconds of the frame's time is drawn on it; default 0.5. */
  boxToleranceSec?: number;
  snapshot?: Omit<SnapshotOptions, 'caption'>;
}

/**
 * Writes what an operator wants to see before being alerted: the frame with its boxes, the
 * spectrogram of what was heard, and the sound itself. Each artifact is independent: a frame
 * that cannot be encoded must not cost the operator the audio.
 */
export class EvidenceWriter {
  private readonly frameSec: number;
  private readonly boxToleranceSec: number;

  constructor(
    private readonly store: Pick<EvidenceStore, 'put'>,
    private readonly snapshots: Pick<SnapshotRenderer, 'jpeg'>,
    private readonly spectrograms: Pick<SpectrogramRenderer, 'png'>,
    private readonly options: EvidenceWriterOptions = {},
  ) {
    this.frameSec = options.frameSec ?? 0.01;
    this.boxToleranceSec = options.boxToleranceSec ?? 0.5;
  }

  /** The usual wiring: renderers encoding through ffmpeg. */
  static withFfmpeg(
    store: Pick<EvidenceStore, 'put'>,
    ffmpeg: FfmpegRunnerOptions = {},
    options: EvidenceWriterOptions = {},
  ): EvidenceWriter {
    const encoder = new ImageFileEncoder(new FfmpegRunner(ffmpeg));
    return new EvidenceWriter(
      store,
      new SnapshotRenderer(encoder),
      new SpectrogramRenderer(encoder),
      options,
    );
  }

  async write(request: EvidenceRequest): Promise<EvidenceWriteResult> {
    const { event, frame, audioWindow, audioClip, boxes } = request;
    const jobs: [ArtifactKind, () => Promise<Uint8Array>][] = [];
    if (frame) {
      jobs.push([
        'snapshot',
        () =>
          this.snapshots.jpeg(frame, boxes ?? this.boxesFor(event, frame.ptsSec), {
            ...this.options.snapshot,
            caption:
              frame.ptsSec === undefined
                ? event.rule
                : `${event.rule} t=${formatTime(frame.ptsSec, 2)}`,
          }),
      ]);
    }
    if (audioWindow) {
      jobs.push([
        'spectrogram',
        () =>
          this.spectrograms.png(audioWindow, {
            frameSec: this.frameSec,
            markerSec: triggerSec(event),
          }),
      ]);
    }
    if (audioClip) {
      jobs.push(['audio', async () => encodeWav(audioClip.samples, audioClip.sampleRate)]);
    }

    const outcomes = await Promise.all(
      jobs.map(async ([kind, render]) => {
        try {
          const bytes = await render();
          const file = ARTIFACT_FILES[kind];
          return { kind, ref: await this.store.put(event.id, file.name, bytes, file.contentType) };
        } catch (error) {
          return { kind, error: error instanceof Error ? error : new Error(String(error)) };
        }
      }),
    );
    const result: EvidenceWriteResult = { refs: {}, errors: [] };
    for (const outcome of outcomes) {
      if ('ref' in outcome && outcome.ref) result.refs[outcome.kind] = outcome.ref;
      else if ('error' in outcome && outcome.error)
        result.errors.push({ kind: outcome.kind, error: outcome.error });
    }
    return result;
  }

  /** The event's video evidence seen at (about) the frame's time; all of it when time is unknown. */
  private boxesFor(event: SecurityEvent, ptsSec: number | undefined): SnapshotBox[] {
    return event.evidence
      .filter((e) => e.modality === 'video' && e.box !== undefined)
      .filter((e) => ptsSec === undefined || Math.abs(e.atSec - ptsSec) <= this.boxToleranceSec)
      .map((e) => ({ box: e.box!, label: e.cls, score: e.score }));
  }
}

/** When the class that fired the rule was observed; the event start when the evidence lacks it. */
export function triggerSec(event: SecurityEvent): number {
  const trigger =
    event.evidence.find((e) => e.cls === event.trigger) ??
    event.evidence.find((e) => e.modality === 'audio');
  return trigger?.atSec ?? event.startSec;
}
