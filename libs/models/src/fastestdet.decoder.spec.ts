import type { BoxDecodeContext } from './box-decoder';
import { decodeFastestDet } from './fastestdet.decoder';
import { scaledGeometry } from './frame-geometry';

const LABELS = ['person', 'car', 'dog'];
const CHANNELS = 5 + LABELS.length;
const GRID = 22;
const PLANE = GRID * GRID;

function output() {
  const data = new Float32Array(CHANNELS * PLANE);
  const cell = (x: number, y: number, values: number[]) =>
    values.forEach((v, c) => (data[c * PLANE + y * GRID + x] = v));
  return { tensor: { data, dims: [1, CHANNELS, GRID, GRID] }, cell };
}

const ctx = (over: Partial<BoxDecodeContext> = {}): BoxDecodeContext => ({
  inputWidth: 352,
  inputHeight: 352,
  // A 704x1056 source stretched to 352x352.
  geometry: scaledGeometry(704, 1056, 352, 352),
  scoreThreshold: 0.6,
  iouThreshold: 0.45,
  labels: LABELS,
  ...over,
});

describe('decodeFastestDet', () => {
  it('scores obj^0.6 x cls^0.4 for the best class and decodes tanh offsets and sigmoid sizes', () => {
    const { tensor, cell } = output();
    // Cell (5, 7): centre offset tanh(0)=0, size sigmoid(0)=0.5 of the input.
    cell(5, 7, [0.8, 0, 0, 0, 0, 0.05, 0.05, 0.9]);
    const [box, ...rest] = decodeFastestDet(tensor, ctx());
    expect(rest).toEqual([]);
    expect(box).toMatchObject({ label: 'dog', labelIndex: 2 });
    expect(box!.score).toBeCloseTo(Math.pow(0.8, 0.6) * Math.pow(0.9, 0.4), 5);
    // Relative centre (5/22, 7/22) of the source, half its width and height: x 160..160+352 clipped.
    const cx = (5 / 22) * 704;
    const cy = (7 / 22) * 1056;
    expect(box!.box[0]).toBeCloseTo(Math.max(0, cx - 176), 3);
    expect(box!.box[1]).toBeCloseTo(Math.max(0, cy - 264), 3);
    expect(box!.box[2]).toBeCloseTo(cx + 176, 3);
    expect(box!.box[3]).toBeCloseTo(cy + 264, 3);
  });

  it('moves the centre by tanh of the offsets, within one cell', () => {
    const { tensor, cell } = output();
    cell(10, 10, [1, 100, -100, -2, -2, 1, 0, 0]);
    const [box] = decodeFastestDet(tensor, ctx({ geometry: scaledGeometry(352, 352, 352, 352) }));
    const w = (1 / (1 + Math.exp(2))) * 352;
    expect((box!.box[0] + box!.box[2]) / 2).toBeCloseTo((11 / 22) * 352, 3);
    expect((box!.box[1] + box!.box[3]) / 2).toBeCloseTo((9 / 22) * 352, 3);
    expect(box!.box[2] - box!.box[0]).toBeCloseTo(w, 3);
  });

  it('drops weak cells and suppresses duplicates of a class', () => {
    const { tensor, cell } = output();
    cell(3, 3, [0.5, 0, 0, 0, 0, 0.5, 0, 0]); // 0.5 overall: under 0.6
    cell(10, 10, [0.9, 0, 0, 0, 0, 0.9, 0, 0]);
    cell(11, 10, [0.85, -0.9, 0, 0, 0, 0.9, 0, 0]);
    const boxes = decodeFastestDet(tensor, ctx());
    expect(boxes).toHaveLength(1);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 5);
  });

  it('rejects a map that does not fit the labels', () => {
    const { tensor } = output();
    expect(() => decodeFastestDet(tensor, ctx({ labels: ['a'] }))).toThrow(
      'fastestdet: output has 3 classes but the labels file has 1',
    );
  });
});
