import type { FrameGeometry, VideoFrame } from '@app/contracts';
import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap.font';
import { EvidenceError, EvidenceErrorCode } from './evidence.error';
import type { ImageEncoder } from './image.encoder';
import { Raster, type PixelRect, type Rgb } from './image.raster';

/** What a snapshot needs of a frame: model-size pixels and where they came from. */
export type SnapshotFrame = Pick<VideoFrame, 'width' | 'height' | 'pixels' | 'pixelFormat'> & {
  geometry: FrameGeometry;
};

export interface SnapshotBox {
  /** [x1, y1, x2, y2] in source-frame pixels, as detections and events carry them. */
  box: readonly [number, number, number, number];
  /** Usually the canonical class; also picks the colour. */
  label: string;
  /** 0..1; shown as a percentage when present. */
  score?: number;
}

export interface SnapshotOptions {
  /** Box outline in model pixels; default 2. */
  thickness?: number;
  /** A line of text in the top-left corner, e.g. stream time. */
  caption?: string;
  /**
   * 'source' (default) scales the picture back to the camera's aspect and size, the way the
   * operator knows the scene; 'model' keeps the detector's pixels.
   */
  size?: 'source' | 'model';
  /** Upper bound on the longer side when scaling to the source: upscaling adds no detail. Default 1280. */
  maxSide?: number;
  /** ffmpeg -q:v; default 3. */
  quality?: number;
}

const CLASS_COLOURS: Readonly<Record<string, Rgb>> = {
  person: [230, 30, 30],
  vehicle: [255, 150, 0],
  animal: [0, 170, 255],
};
const OTHER_COLOUR: Rgb = [255, 0, 255];
const LABEL_PADDING = 2;
const CAPTION_BACKGROUND: Rgb = [0, 0, 0];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

export function colourFor(label: string): Rgb {
  return CLASS_COLOURS[label] ?? OTHER_COLOUR;
}

/**
 * Where a source-pixel box lands in the model-size frame (model = source·scale + pad), as an
 * inclusive pixel rectangle. Not clipped.
 */
export function boxToModelPixels(
  box: readonly [number, number, number, number],
  g: FrameGeometry,
): PixelRect {
  const [x1, y1, x2, y2] = box;
  const left = Math.round(Math.min(x1, x2) * g.scaleX + g.padX);
  const top = Math.round(Math.min(y1, y2) * g.scaleY + g.padY);
  const right = Math.round(Math.max(x1, x2) * g.scaleX + g.padX) - 1;
  const bottom = Math.round(Math.max(y1, y2) * g.scaleY + g.padY) - 1;
  return { left, top, right: Math.max(left, right), bottom: Math.max(top, bottom) };
}

/** The part of a letterboxed frame that shows the camera's picture, not padding. */
export function contentRect(
  frame: Pick<SnapshotFrame, 'width' | 'height' | 'geometry'>,
): PixelRect {
  const g = frame.geometry;
  if (!(g.scaleX > 0) || !(g.scaleY > 0) || !(g.sourceWidth > 0) || !(g.sourceHeight > 0)) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `frame geometry is unusable: ${JSON.stringify(g)}`,
    );
  }
  const left = Math.max(0, Math.round(g.padX));
  const top = Math.max(0, Math.round(g.padY));
  const right = Math.min(frame.width - 1, Math.round(g.padX + g.sourceWidth * g.scaleX) - 1);
  const bottom = Math.min(frame.height - 1, Math.round(g.padY + g.sourceHeight * g.scaleY) - 1);
  if (right < left || bottom < top) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `frame geometry puts the picture outside the ${frame.width}x${frame.height} frame`,
    );
  }
  return { left, top, right, bottom };
}

/**
 * The frame that matched, as an operator wants it: letterbox padding cut away, each detection
 * boxed and labelled in its class colour, then a JPEG.
 */
export class SnapshotRenderer {
  constructor(private readonly encoder?: Pick<ImageEncoder, 'jpeg'>) {}

  async jpeg(
    frame: SnapshotFrame,
    boxes: readonly SnapshotBox[],
    options: SnapshotOptions = {},
  ): Promise<Uint8Array> {
    if (!this.encoder) throw new Error('SnapshotRenderer was built without an image encoder');
    const { raster } = this.raster(frame, boxes, options);
    const size = options.size === 'model' ? undefined : outputSize(frame.geometry, options.maxSide);
    return this.encoder.jpeg(raster, { quality: options.quality ?? 3, ...size });
  }

  /** The annotated picture at model resolution, and where each box was drawn in it. */
  raster(
    frame: SnapshotFrame,
    boxes: readonly SnapshotBox[],
    options: SnapshotOptions = {},
  ): { raster: Raster; boxes: PixelRect[] } {
    const expected = frame.width * frame.height * 3;
    if (frame.pixels.length !== expected) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `a ${frame.width}x${frame.height} frame needs ${expected} bytes (got ${frame.pixels.length})`,
      );
    }
    const order = frame.pixelFormat === 'rgb24' ? 'rgb' : 'bgr';
    // Copy: the frame may still be on its way to other consumers.
    const full = new Raster(frame.width, frame.height, order, new Uint8Array(frame.pixels));
    const content = contentRect(frame);
    const raster = full.crop(content);
    const thickness = options.thickness ?? 2;

    const drawn = boxes.map((b) => {
      const m = boxToModelPixels(b.box, frame.geometry);
      return {
        left: m.left - content.left,
        top: m.top - content.top,
        right: m.right - content.left,
        bottom: m.bottom - content.top,
      };
    });
    boxes.forEach((b, i) => raster.strokeRect(drawn[i], thickness, colourFor(b.label)));
    // Labels after every box, so a neighbour's outline never cuts through a label.
    boxes.forEach((b, i) => drawLabel(raster, drawn[i], labelText(b), colourFor(b.label)));
    if (options.caption) drawCaption(raster, options.caption);
    return { raster, boxes: drawn };
  }
}

export function labelText(box: Pick<SnapshotBox, 'label' | 'score'>): string {
  if (box.score === undefined || !Number.isFinite(box.score)) return box.label;
  return `${box.label} ${Math.round(box.score * 100)}%`;
}

/** Above the box when there is room, else just inside its top edge; never off the picture. */
function drawLabel(raster: Raster, rect: PixelRect, text: string, colour: Rgb): void {
  const width = textWidth(text) + 2 * LABEL_PADDING;
  const height = GLYPH_HEIGHT + 2 * LABEL_PADDING;
  const top = rect.top - height >= 0 ? rect.top - height : Math.max(0, rect.top);
  const left = Math.max(0, Math.min(raster.width - width, rect.left));
  raster.fillRect({ left, top, right: left + width - 1, bottom: top + height - 1 }, colour);
  drawText(raster, text, left + LABEL_PADDING, top + LABEL_PADDING, inkOn(colour));
}

function drawCaption(raster: Raster, text: string): void {
  const width = textWidth(text) + 2 * LABEL_PADDING;
  const height = GLYPH_HEIGHT + 2 * LABEL_PADDING;
  raster.fillRect({ left: 0, top: 0, right: width - 1, bottom: height - 1 }, CAPTION_BACKGROUND);
  drawText(raster, text, LABEL_PADDING, LABEL_PADDING, WHITE);
}

/** Black text on light label colours, white on dark ones (Rec. 601 luma). */
function inkOn([r, g, b]: Rgb): Rgb {
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? BLACK : WHITE;
}

/** The camera's size, shrunk (aspect kept) to fit maxSide. */
export function outputSize(
  g: Pick<FrameGeometry, 'sourceWidth' | 'sourceHeight'>,
  maxSide = 1280,
): { width: number; height: number } {
  const shrink = Math.min(1, maxSide / Math.max(g.sourceWidth, g.sourceHeight));
  const fit = (v: number) => Math.max(1, Math.round(v * shrink));
  return { width: fit(g.sourceWidth), height: fit(g.sourceHeight) };
}
