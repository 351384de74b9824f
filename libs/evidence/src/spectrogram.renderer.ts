import { drawText, GLYPH_HEIGHT, textWidth } from './bitmap.font';
import { EvidenceError, EvidenceErrorCode } from './evidence.error';
import type { ImageEncoder } from './image.encoder';
import { Raster, type Rgb } from './image.raster';
import { layoutTimeAxis } from './time-axis.layout';
import { viridisTable } from './viridis.colormap';

/**
 * A log-mel window as the feature stage produces it (AudioFeatureWindow fits): mel-major,
 * `melBins` rows of `frames` values, row 0 the lowest band.
 */
export interface SpectrogramSource {
  melBins: number;
  frames: number;
  data: Float32Array;
  /** Stream time of frame 0's centre (torch's centred STFT puts frame t at t·hop). */
  startSec: number;
}

export interface SpectrogramOptions {
  /** Seconds between frames, the feature hop; default 0.01. */
  frameSec?: number;
  /** Default 4. */
  pxPerFrame?: number;
  /** Default 2. */
  pxPerMel?: number;
  /** A line at this stream time, e.g. when the event's trigger was heard. */
  markerSec?: number;
  /**
   * Values mapped to the bottom and top of the colour scale. Default: from the window itself
   * (5th percentile .. maximum), so quiet rooms and loud streets both use the whole scale.
   */
  range?: readonly [low: number, high: number];
}

/** Where things were drawn, for callers that annotate further and for tests. */
export interface SpectrogramLayout {
  plotWidth: number;
  plotHeight: number;
  /** Column of the marker line's left edge, when one was drawn. */
  markerX?: number;
  low: number;
  high: number;
}

const MAJOR_TICK = 5;
const LABEL_GAP = 2;
/** Ticks, a gap, one line of 7-px digits and a little air below them. */
const AXIS_HEIGHT = MAJOR_TICK + LABEL_GAP + GLYPH_HEIGHT + 4;
const MINOR_TICK = 2;
const AXIS_BACKGROUND: Rgb = [0, 0, 0];
const AXIS_INK: Rgb = [255, 255, 255];
/** Viridis has no red anywhere, so a red marker can never be mistaken for energy. */
const MARKER: Rgb = [255, 32, 32];
const MARKER_WIDTH = 2;
const COLOURS = viridisTable(256);

/**
 * Draws a log-mel window as a picture an operator can read: viridis colours, low frequencies
 * at the bottom, a labelled time axis in stream seconds, and optionally the trigger moment.
 */
export class SpectrogramRenderer {
  constructor(private readonly encoder?: Pick<ImageEncoder, 'png'>) {}

  async png(source: SpectrogramSource, options: SpectrogramOptions = {}): Promise<Uint8Array> {
    if (!this.encoder) throw new Error('SpectrogramRenderer was built without an image encoder');
    return this.encoder.png(this.raster(source, options).raster);
  }

  raster(
    source: SpectrogramSource,
    options: SpectrogramOptions = {},
  ): { raster: Raster; layout: SpectrogramLayout } {
    const { melBins, frames, data, startSec } = source;
    if (!Number.isInteger(melBins) || !Number.isInteger(frames) || melBins < 1 || frames < 1) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `a spectrogram needs at least one mel bin and one frame (got ${melBins}x${frames})`,
      );
    }
    if (data.length !== melBins * frames) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `log-mel data holds ${data.length} values, expected ${melBins}x${frames}`,
      );
    }
    const frameSec = options.frameSec ?? 0.01;
    if (!(frameSec > 0) || !Number.isFinite(frameSec)) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `frameSec must be a positive number of seconds (got ${frameSec})`,
      );
    }
    const pxPerFrame = positiveInt(options.pxPerFrame ?? 4, 'pxPerFrame');
    const pxPerMel = positiveInt(options.pxPerMel ?? 2, 'pxPerMel');
    const plotWidth = frames * pxPerFrame;
    const plotHeight = melBins * pxPerMel;
    const raster = new Raster(plotWidth, plotHeight + AXIS_HEIGHT, 'rgb');
    const [low, high] = options.range ?? autoRange(data);
    const span = high > low ? high - low : 1;

    for (let m = 0; m < melBins; m++) {
      // Row 0 of the data is the lowest band; it belongs at the bottom of the picture.
      const yBottom = plotHeight - 1 - m * pxPerMel;
      for (let t = 0; t < frames; t++) {
        const v = data[m * frames + t];
        const level = Number.isFinite(v) ? Math.round(((v - low) / span) * 255) : 0;
        const colour = COLOURS[Math.min(255, Math.max(0, level))];
        raster.fillRect(
          {
            left: t * pxPerFrame,
            top: yBottom - pxPerMel + 1,
            right: t * pxPerFrame + pxPerFrame - 1,
            bottom: yBottom,
          },
          colour,
        );
      }
    }

    // Frame t covers columns [t·px, (t+1)·px) and stands for the instant at its centre, so the
    // picture's left edge is half a frame before startSec.
    const fromSec = startSec - frameSec / 2;
    const toSec = fromSec + frames * frameSec;
    const toX = (sec: number) => ((sec - fromSec) / frameSec) * pxPerFrame;
    this.drawAxis(raster, plotHeight, fromSec, toSec);

    const layout: SpectrogramLayout = { plotWidth, plotHeight, low, high };
    if (options.markerSec !== undefined && Number.isFinite(options.markerSec)) {
      const x = Math.round(toX(options.markerSec) - MARKER_WIDTH / 2);
      if (x + MARKER_WIDTH > 0 && x < plotWidth) {
        raster.fillRect(
          { left: x, top: 0, right: x + MARKER_WIDTH - 1, bottom: plotHeight + MAJOR_TICK },
          MARKER,
        );
        layout.markerX = x;
      }
    }
    return { raster, layout };
  }

  private drawAxis(raster: Raster, plotHeight: number, fromSec: number, toSec: number): void {
    const width = raster.width;
    raster.fillRect(
      { left: 0, top: plotHeight, right: width - 1, bottom: raster.height - 1 },
      AXIS_BACKGROUND,
    );
    const axis = layoutTimeAxis({ fromSec, toSec, widthPx: width });
    for (const tick of axis.minor) {
      const x = Math.min(width - 1, Math.round(tick.x));
      raster.fillRect(
        { left: x, top: plotHeight, right: x, bottom: plotHeight + MINOR_TICK - 1 },
        AXIS_INK,
      );
    }
    const labelTop = plotHeight + MAJOR_TICK + LABEL_GAP;
    for (const tick of axis.major) {
      const x = Math.min(width - 1, Math.round(tick.x));
      raster.fillRect(
        { left: x, top: plotHeight, right: x, bottom: plotHeight + MAJOR_TICK - 1 },
        AXIS_INK,
      );
      // Centred under its tick, but pushed inside when the tick sits near an edge.
      const w = textWidth(tick.label);
      const left = Math.max(0, Math.min(width - w, Math.round(x - w / 2)));
      drawText(raster, tick.label, left, labelTop, AXIS_INK);
    }
  }
}

/** 5th percentile .. maximum of the finite values: a few dropouts must not wash out the rest. */
function autoRange(data: Float32Array): [number, number] {
  const finite = Array.from(data).filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  finite.sort((a, b) => a - b);
  const low = finite[Math.floor((finite.length - 1) * 0.05)];
  const high = finite[finite.length - 1];
  return high > low ? [low, high] : [low, low + 1];
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `${name} must be a positive integer (got ${value})`,
    );
  }
  return value;
}
