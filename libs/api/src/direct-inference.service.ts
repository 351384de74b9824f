import type { Detection } from '@app/contracts';
import { LogMelExtractor } from '@app/dsp';
import { EvidenceError, type FfmpegRunner } from '@app/evidence';
import { frameGeometry, letterboxSize } from '@app/media';
import type { LoadedAudioModel, LoadedVideoModel, RawBox } from '@app/models';
import { ApiError, ApiErrorCode } from './api.error';

export type SampleFormat = 'f32le' | 's16le';

export interface ClassifyAudioInput {
  pcm: Uint8Array;
  sampleRate: number;
  format: SampleFormat;
  topK: number;
}

export interface ClassifyAudioResult {
  model: string;
  labels: { label: string; score: number }[];
  detections: Detection[];
  durationSec: number;
}

export interface DetectObjectsInput {
  image: Uint8Array;
  minScore?: number;
}

export interface DetectObjectsResult {
  model: string;
  width: number;
  height: number;
  objects: RawBox[];
  detections: Detection[];
}

const MIN_SECONDS = 0.1;
const MAX_SECONDS = 60;

/**
 * The models for one-off requests (InferenceService): a clip classified as one window, exactly
 * as the reference numbers were computed, and one picture letterboxed the way the detector
 * was trained, with ffmpeg's bilinear scaling.
 */
export class DirectInference {
  private inFlight = 0;

  constructor(
    private readonly audio: LoadedAudioModel,
    private readonly video: LoadedVideoModel,
    private readonly ffmpeg: Pick<FfmpegRunner, 'run'>,
    /** Each request runs ffmpeg and a model: more at once only queue for the same cores. */
    private readonly maxInFlight = 4,
  ) {}

  async classifyAudio(input: ClassifyAudioInput): Promise<ClassifyAudioResult> {
    if (input.topK > this.audio.labels.length) {
      throw ApiError.invalid('top_k', `must be at most ${this.audio.labels.length}`);
    }
    return this.limited(() => this.classify(input));
  }

  async detectObjects(input: DetectObjectsInput): Promise<DetectObjectsResult> {
    if (input.image.byteLength === 0) throw ApiError.invalid('image', 'is empty');
    return this.limited(() => this.detect(input));
  }

  /** Requests beyond the limit are refused, not queued: the caller may retry elsewhere. */
  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.maxInFlight) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `${this.inFlight} inference requests are running; try again later`,
      );
    }
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }

  private async classify(input: ClassifyAudioInput): Promise<ClassifyAudioResult> {
    const recipe = this.audio.manifest.features!.recipe;
    const bytesPerSample = input.format === 'f32le' ? 4 : 2;
    if (input.pcm.byteLength % bytesPerSample !== 0) {
      throw ApiError.invalid('pcm', `length is not a whole number of ${input.format} samples`);
    }
    const seconds = input.pcm.byteLength / bytesPerSample / input.sampleRate;
    if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
      throw ApiError.invalid(
        'pcm',
        `holds ${seconds.toFixed(3)} s at ${input.sampleRate} Hz; send ${MIN_SECONDS} to ${MAX_SECONDS} s`,
      );
    }
    let samples = toFloat32(input.pcm, input.format);
    if (input.sampleRate !== recipe.sampleRate) {
      samples = await this.resample(samples, input.sampleRate, recipe.sampleRate);
    }
    const extractor = new LogMelExtractor(recipe);
    const frames = extractor.frameCount(samples.length);
    const [scores] = await this.audio.tagger.classify([
      { data: extractor.compute(samples), frames },
    ]);
    const labels = [...scores!]
      .map((score, i) => ({ label: this.audio.labels[i]!, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, input.topK);
    return {
      model: this.audio.manifest.name,
      labels,
      detections: this.audio.mapper.detect(scores!),
      durationSec: seconds,
    };
  }

  private async detect(input: DetectObjectsInput): Promise<DetectObjectsResult> {
    const { width, height, resize, padColor } = this.video.manifest.input;
    const target = { width: width!, height: height! };
    const source = await this.imageSize(input.image);
    const scaled = resize === 'stretch' ? target : letterboxSize(source, target);
    const filter =
      `scale=${scaled.width}:${scaled.height}:flags=bilinear,format=bgr24` +
      (resize === 'stretch'
        ? ''
        : `,pad=${target.width}:${target.height}:0:0:color=${padColor ?? 'black'}`);
    const pixels = await this.decodeImage(input.image, [
      '-vf',
      filter,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'bgr24',
      'pipe:1',
    ]);
    if (pixels.byteLength !== target.width * target.height * 3) {
      throw ApiError.invalid('image', 'could not be decoded to one picture');
    }
    const boxes = await this.video.detector.detect({
      pixels,
      ...target,
      geometry: frameGeometry(source, { ...target, resize: resize ?? 'letterbox-topleft' }),
      pixelFormat: 'bgr24',
    });
    const objects =
      input.minScore === undefined ? boxes : boxes.filter((b) => b.score >= input.minScore!);
    return {
      model: this.video.manifest.name,
      ...source,
      objects,
      detections: this.video.mapper.detect(objects),
    };
  }

  /**
   * The size ffmpeg really decodes, from the headers of two one-row PPMs (the picture's top row,
   * and its first column turned into a row), so a 24-megapixel photo costs kilobytes, not a
   * full-size copy. RGB first: a one-row crop of subsampled YUV is refused.
   */
  private async imageSize(image: Uint8Array): Promise<{ width: number; height: number }> {
    const rowLength = async (filter: string) => {
      const ppm = await this.decodeImage(image, [
        '-vf',
        filter,
        '-c:v',
        'ppm',
        '-f',
        'image2pipe',
        'pipe:1',
      ]);
      const header = /^P6\s+(\d+)\s+(\d+)\s/.exec(
        Buffer.from(ppm.subarray(0, 64)).toString('latin1'),
      );
      if (!header) throw ApiError.invalid('image', 'is not a picture ffmpeg can decode');
      return Number(header[1]);
    };
    const [width, height] = await Promise.all([
      rowLength('format=rgb24,crop=iw:1:0:0'),
      rowLength('format=rgb24,transpose=clock,crop=iw:1:0:0'),
    ]);
    return { width, height };
  }

  private async decodeImage(image: Uint8Array, output: string[]): Promise<Uint8Array> {
    try {
      return await this.ffmpeg.run(
        ['-f', 'image2pipe', '-i', 'pipe:0', '-frames:v', '1', ...output],
        image,
        'decoding the image',
      );
    } catch (error) {
      if (error instanceof EvidenceError) {
        throw ApiError.invalid('image', 'is not a picture ffmpeg can decode');
      }
      throw error;
    }
  }

  private async resample(samples: Float32Array, from: number, to: number): Promise<Float32Array> {
    const out = await this.ffmpeg.run(
      [
        '-f',
        'f32le',
        '-ar',
        String(from),
        '-ac',
        '1',
        '-i',
        'pipe:0',
        '-f',
        'f32le',
        '-ar',
        String(to),
        '-ac',
        '1',
        'pipe:1',
      ],
      new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength),
      'resampling audio',
    );
    if (out.byteLength === 0)
      throw new ApiError(ApiErrorCode.INTERNAL, 'resampling produced nothing');
    return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
  }
}

function toFloat32(bytes: Uint8Array, format: SampleFormat): Float32Array {
  // A copy into a fresh buffer: the request's bytes may sit at any offset of a pooled Buffer
  // (whose slice() would not copy).
  const copy = new Uint8Array(bytes);
  if (format === 'f32le') return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  const ints = new Int16Array(copy.buffer, 0, copy.byteLength / 2);
  const out = new Float32Array(ints.length);
  for (let i = 0; i < ints.length; i++) out[i] = ints[i]! / 32768;
  return out;
}
