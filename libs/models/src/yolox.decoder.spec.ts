import type { BoxDecodeContext } from './box-decoder';
import { scaledGeometry } from './frame-geometry';
import { decodeYolox } from './yolox.decoder';

const LABELS = ['person', 'car', 'dog', 'cat'];
const WIDTH = 5 + LABELS.length;
const CELLS = 52 * 52 + 26 * 26 + 13 * 13;

function output() {
  const data = new Float32Array(CELLS * WIDTH);
  const cell = (
    strideIndex: 0 | 1 | 2,
    gx: number,
    gy: number,
    values: { t: number[]; obj: number; cls: number[] },
  ) => {
    const grids = [52, 26, 13];
    let row = 0;
    for (let s = 0; s < strideIndex; s++) row += grids[s]! * grids[s]!;
    row += gy * grids[strideIndex]! + gx;
    data.set([...values.t, values.obj, ...values.cls], row * WIDTH);
  };
  return { tensor: { data, dims: [1, CELLS, WIDTH] }, cell };
}

const ctx = (over: Partial<BoxDecodeContext> = {}): BoxDecodeContext => ({
  inputWidth: 416,
  inputHeight: 416,
  // A 832x624 source letterboxed to 416x312 at the top-left: scale 0.5, no offset.
  geometry: scaledGeometry(832, 624, 416, 312),
  scoreThreshold: 0.3,
  iouThreshold: 0.45,
  labels: LABELS,
  ...over,
});

describe('decodeYolox', () => {
  it('decodes grid offsets, log sizes and strides, scores obj x cls, maps to source pixels', () => {
    const { tensor, cell } = output();
    // Stride 8, cell (20, 10): centre (164, 84), size 32x16 in model pixels.
    cell(0, 20, 10, { t: [0.5, 0.5, Math.log(4), Math.log(2)], obj: 0.9, cls: [0, 0, 0.9, 0] });
    // Stride 32, cell (3, 2): centre (112, 80), size 64x64.
    cell(2, 3, 2, { t: [0.5, 0.5, Math.log(2), Math.log(2)], obj: 0.8, cls: [0.5, 0, 0, 0] });
    const boxes = decodeYolox(tensor, ctx());
    expect(boxes).toHaveLength(2);
    expect(boxes[0]).toMatchObject({ label: 'dog', labelIndex: 2 });
    expect(boxes[0]!.score).toBeCloseTo(0.81, 5);
    expect(boxes[0]!.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([296, 152, 360, 184]);
    expect(boxes[1]).toMatchObject({ label: 'person', labelIndex: 0 });
    expect(boxes[1]!.score).toBeCloseTo(0.4, 5);
    expect(boxes[1]!.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([160, 96, 288, 224]);
  });

  it('drops candidates under the threshold, weak objectness first', () => {
    const { tensor, cell } = output();
    cell(0, 1, 1, { t: [0, 0, 0, 0], obj: 0.29, cls: [1, 1, 1, 1] });
    cell(0, 5, 5, { t: [0, 0, 0, 0], obj: 0.9, cls: [0.3, 0, 0, 0] });
    expect(decodeYolox(tensor, ctx())).toEqual([]);
  });

  it('suppresses duplicates within a class but keeps a second class on the same object', () => {
    const { tensor, cell } = output();
    cell(0, 20, 10, { t: [0.5, 0.5, Math.log(4), Math.log(4)], obj: 0.9, cls: [0, 0, 0.9, 0.42] });
    cell(0, 21, 10, { t: [-0.4, 0.5, Math.log(4), Math.log(4)], obj: 0.9, cls: [0, 0, 0.8, 0] });
    const boxes = decodeYolox(tensor, ctx());
    expect(boxes.map((b) => [b.label, Math.round(b.score * 1000) / 1000])).toEqual([
      ['dog', 0.81],
      ['cat', 0.378],
    ]);
  });

  it('clips boxes that reach past the picture', () => {
    const { tensor, cell } = output();
    cell(0, 0, 0, { t: [0, 0, Math.log(8), Math.log(8)], obj: 1, cls: [1, 0, 0, 0] });
    expect(decodeYolox(tensor, ctx())[0]!.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([
      0, 0, 64, 64,
    ]);
  });

  it('rejects outputs that do not match the input size or the labels', () => {
    const { tensor } = output();
    expect(() => decodeYolox(tensor, ctx({ inputWidth: 640, inputHeight: 640 }))).toThrow(
      /3549 cells do not match a 640x640 input/,
    );
    expect(() => decodeYolox(tensor, ctx({ labels: ['person'] }))).toThrow(
      'yolox: output has 4 classes but the labels file has 1',
    );
    expect(() => decodeYolox({ data: new Float32Array(10), dims: [1, 10] }, ctx())).toThrow(
      'yolox: unexpected output dims [1, 10]',
    );
  });
});
