import { classAwareNms } from './nms';
import type { BoxDecodeContext } from './box-decoder';
import { toSourceBox } from './frame-geometry';
import type { TensorData } from './model-session';
import type { RawBox } from './raw-box';

export const YOLOX_STRIDES = [8, 16, 32] as const;

/**
 * Decodes YOLOX's `[1, cells, 5 + classes]` output: cells are the stride-8, 16 and 32 grids in
 * that order, row-major; per cell tx, ty, tw, th, objectness, class scores (both already
 * sigmoided). Every class whose objectness × class score clears the threshold becomes a
 * candidate, as in YOLOX's own class-aware post-processing.
 */
export function decodeYolox(output: TensorData, ctx: BoxDecodeContext): RawBox[] {
  const { data, dims } = output;
  const cells = dims[1] ?? 0;
  const width = dims[2] ?? 0;
  const classes = width - 5;
  if (dims.length !== 3 || classes <= 0 || data.length !== cells * width) {
    throw new Error(`yolox: unexpected output dims [${dims.join(', ')}]`);
  }
  if (classes !== ctx.labels.length) {
    throw new Error(
      `yolox: output has ${classes} classes but the labels file has ${ctx.labels.length}`,
    );
  }
  const expectedCells = YOLOX_STRIDES.reduce(
    (n, s) => n + Math.floor(ctx.inputWidth / s) * Math.floor(ctx.inputHeight / s),
    0,
  );
  if (cells !== expectedCells) {
    throw new Error(
      `yolox: ${cells} cells do not match a ${ctx.inputWidth}x${ctx.inputHeight} input (${expectedCells} expected)`,
    );
  }

  const threshold = ctx.scoreThreshold;
  const candidates: RawBox[] = [];
  let row = 0;
  for (const stride of YOLOX_STRIDES) {
    const gridW = Math.floor(ctx.inputWidth / stride);
    const gridH = Math.floor(ctx.inputHeight / stride);
    for (let gy = 0; gy < gridH; gy++) {
      for (let gx = 0; gx < gridW; gx++, row++) {
        const o = row * width;
        const objectness = data[o + 4]!;
        // Class scores are at most 1, so a weak objectness rules out every class at once.
        if (objectness < threshold) continue;
        const cx = (data[o]! + gx) * stride;
        const cy = (data[o + 1]! + gy) * stride;
        const halfW = (Math.exp(data[o + 2]!) * stride) / 2;
        const halfH = (Math.exp(data[o + 3]!) * stride) / 2;
        for (let c = 0; c < classes; c++) {
          const score = objectness * data[o + 5 + c]!;
          if (score < threshold) continue;
          candidates.push({
            label: ctx.labels[c]!,
            labelIndex: c,
            score,
            box: toSourceBox(cx - halfW, cy - halfH, cx + halfW, cy + halfH, ctx.geometry),
          });
        }
      }
    }
  }
  return classAwareNms(candidates, ctx.iouThreshold);
}
