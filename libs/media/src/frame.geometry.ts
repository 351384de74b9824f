import type { FrameGeometry } from '@app/contracts';
import type { VideoOutputOptions } from './decode.contract';

export interface Size {
  width: number;
  height: number;
}

/**
 * The picture size inside a letterboxed frame. ffmpeg computes the very same numbers from the
 * expressions in `letterboxScaleExpressions` (same double arithmetic, same rounding of
 * positive values), which is what makes the geometry exact rather than an estimate.
 */
export function letterboxSize(source: Size, target: Size): Size {
  const { width: iw, height: ih } = source;
  const { width: W, height: H } = target;
  if (W * ih <= H * iw) return { width: W, height: Math.max(1, Math.round((ih * W) / iw)) };
  return { width: Math.max(1, Math.round((iw * H) / ih)), height: H };
}

/** ffmpeg `scale` w/h expressions computing `letterboxSize` from the input size (iw, ih). */
export function letterboxScaleExpressions(target: Size): { w: string; h: string } {
  const { width: W, height: H } = target;
  const widthLimited = `lte(${W}*ih\\,${H}*iw)`;
  return {
    w: `'if(${widthLimited}\\,${W}\\,max(1\\,round(iw*${H}/ih)))'`,
    h: `'if(${widthLimited}\\,max(1\\,round(ih*${W}/iw))\\,${H})'`,
  };
}

/** Where the model-sized picture sits in the source frame (model = source * scale + pad). */
export function frameGeometry(
  source: Size,
  video: Pick<VideoOutputOptions, 'width' | 'height' | 'resize'>,
): FrameGeometry {
  const scaled =
    video.resize === 'stretch'
      ? { width: video.width, height: video.height }
      : letterboxSize(source, video);
  return {
    sourceWidth: source.width,
    sourceHeight: source.height,
    scaleX: scaled.width / source.width,
    scaleY: scaled.height / source.height,
    padX: 0,
    padY: 0,
  };
}
