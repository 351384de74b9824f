import type { FrameGeometry } from '@app/contracts';
import type { BoxDecoder } from './box-decoder';
import { decodeFastestDet } from './fastestdet.decoder';
import type { ModelManifest, OutputDecoderName } from './model.manifest';
import type { ModelSession } from './model-session';
import type { RawBox } from './raw-box';
import { decodeYolox } from './yolox.decoder';

/** A frame already resized to the detector's input size (see the manifest's `input.resize`). */
export interface DetectorFrame {
  /** Interleaved 8-bit pixels, row-major, width × height × 3 bytes. */
  pixels: Uint8Array;
  width: number;
  height: number;
  geometry: FrameGeometry;
  /** Default bgr24, the order both catalogued detectors were trained on. */
  pixelFormat?: 'bgr24' | 'rgb24';
}

const BOX_DECODERS: Partial<Record<OutputDecoderName, BoxDecoder>> = {
  yolox: decodeYolox,
  fastestdet: decodeFastestDet,
};

/**
 * Runs a single-image detector (batch fixed at 1 in these exports: one run per frame) and
 * decodes its boxes into source-frame pixels. Frames may run side by side (a session pool of
 * several workers takes them in parallel). The frame goes to the session as 8-bit pixels: the
 * session makes the planar float input where the model runs (see ImageFeed).
 */
export class ObjectDetector {
  private readonly width: number;
  private readonly height: number;
  private readonly scale: number;
  private readonly decode: BoxDecoder;
  private readonly nms: { iou: number; scoreThreshold: number };

  constructor(
    private readonly session: ModelSession,
    private readonly manifest: ModelManifest,
    private readonly labels: readonly string[],
  ) {
    const { input, output, nms } = manifest;
    if (manifest.task !== 'object-detection' || !input.width || !input.height || !nms) {
      throw new Error(`${manifest.name} is not an object-detection model`);
    }
    const decode = BOX_DECODERS[output.decoder];
    if (!decode) throw new Error(`${manifest.name}: no box decoder named ${output.decoder}`);
    this.decode = decode;
    this.nms = nms;
    this.width = input.width;
    this.height = input.height;
    this.scale = input.scale ?? 1;
  }

  get modelName(): string {
    return this.manifest.name;
  }

  async detect(frame: DetectorFrame): Promise<RawBox[]> {
    const { name, input, output } = this.manifest;
    if (frame.width !== this.width || frame.height !== this.height) {
      throw new Error(
        `${name} takes ${this.width}x${this.height} frames, got ${frame.width}x${frame.height}`,
      );
    }
    if (frame.pixels.length !== this.width * this.height * 3) {
      throw new Error(
        `${name}: expected ${this.width}x${this.height}x3 = ${this.width * this.height * 3} bytes, got ${frame.pixels.length}`,
      );
    }
    const outputs = await this.session.run({
      [input.name]: {
        pixels: frame.pixels,
        width: this.width,
        height: this.height,
        scale: this.scale,
        swapRedBlue: (frame.pixelFormat ?? 'bgr24') !== (input.pixelFormat ?? 'bgr24'),
      },
    });
    const raw = outputs[output.name];
    if (!raw) throw new Error(`${name}: model returned no output ${output.name}`);
    return this.decode(raw, {
      inputWidth: this.width,
      inputHeight: this.height,
      geometry: frame.geometry,
      scoreThreshold: this.nms.scoreThreshold,
      iouThreshold: this.nms.iou,
      labels: this.labels,
    });
  }
}
