import type { FrameGeometry } from '@app/contracts';

/**
 * Maps a box from model-input pixels back to the source frame
 * (source = (model − pad) / scale) and clips it to the frame, since letterbox padding and
 * regressed extents can reach past the picture.
 */
export function toSourceBox(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  g: FrameGeometry,
): [number, number, number, number] {
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return [
    clip((x1 - g.padX) / g.scaleX, g.sourceWidth),
    clip((y1 - g.padY) / g.scaleY, g.sourceHeight),
    clip((x2 - g.padX) / g.scaleX, g.sourceWidth),
    clip((y2 - g.padY) / g.scaleY, g.sourceHeight),
  ];
}

/**
 * Geometry of a picture scaled to `scaledWidth × scaledHeight` and pasted at (padX, padY) of
 * the model input. Pass the size the resizer really produced: it rounds, so recomputing the
 * ratio from the model size alone is off by up to a pixel.
 */
export function scaledGeometry(
  sourceWidth: number,
  sourceHeight: number,
  scaledWidth: number,
  scaledHeight: number,
  padX = 0,
  padY = 0,
): FrameGeometry {
  return {
    sourceWidth,
    sourceHeight,
    scaleX: scaledWidth / sourceWidth,
    scaleY: scaledHeight / sourceHeight,
    padX,
    padY,
  };
}
