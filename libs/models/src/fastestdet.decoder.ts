import type { BoxDecodeContext } from './box-decoder';
import { toSourceBox } from './frame-geometry';
import type { TensorData } from './model-session';
import { classAwareNms } from './nms';
import type { RawBox } from './raw-box';
import { sigmoid } from './sigmoid';

/**
 * Decodes FastestDet's single stride map `[1, 5 + classes, H, W]`: channel 0 objectness
 * (sigmoided), 1–4 box terms, then class probabilities (softmaxed). One box per cell, for the
 * best class, scored obj^0.6 · cls^0.4 as upstream's reference runtime does; centre offsets go
 * through tanh and sizes through a sigmoid, relative to the whole input.
 */
export function decodeFastestDet(output: TensorData, ctx: BoxDecodeContext): RawBox[] {
  const { data, dims } = output;
  const channels = dims[1] ?? 0;
  const gridH = dims[2] ?? 0;
  const gridW = dims[3] ?? 0;
  const classes = channels - 5;
  const plane = gridH * gridW;
  if (dims.length !== 4 || classes <= 0 || data.length !== channels * plane) {
    throw new Error(`fastestdet: unexpected output dims [${dims.join(', ')}]`);
  }
  if (classes !== ctx.labels.length) {
    throw new Error(
      `fastestdet: output has ${classes} classes but the labels file has ${ctx.labels.length}`,
    );
  }

  const candidates: RawBox[] = [];
  for (let gy = 0; gy < gridH; gy++) {
    for (let gx = 0; gx < gridW; gx++) {
      const cell = gy * gridW + gx;
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < classes; c++) {
        const p = data[(5 + c) * plane + cell]!;
        if (p > bestScore) {
          bestScore = p;
          best = c;
        }
      }
      const objectness = data[cell]!;
      const score = Math.pow(Math.max(objectness, 0), 0.6) * Math.pow(Math.max(bestScore, 0), 0.4);
      if (score < ctx.scoreThreshold) continue;
      const cx = ((gx + Math.tanh(data[plane + cell]!)) / gridW) * ctx.inputWidth;
      const cy = ((gy + Math.tanh(data[2 * plane + cell]!)) / gridH) * ctx.inputHeight;
      const halfW = (sigmoid(data[3 * plane + cell]!) * ctx.inputWidth) / 2;
      const halfH = (sigmoid(data[4 * plane + cell]!) * ctx.inputHeight) / 2;
      candidates.push({
        label: ctx.labels[best]!,
        labelIndex: best,
        score,
        box: toSourceBox(cx - halfW, cy - halfH, cx + halfW, cy + halfH, ctx.geometry),
      });
    }
  }
  return classAwareNms(candidates, ctx.iouThreshold);
}
