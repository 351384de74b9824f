import { AssembledWindow, WindowAssembler } from './window.assembler';

const MELS = 4;

/** Frame-major frames whose values encode (frame, mel) so layouts can be checked exactly. */
function frames(from: number, count: number, loud: number[] = []): Float32Array {
  const out = new Float32Array(count * MELS);
  for (let f = 0; f < count; f++) {
    const abs = from + f;
    for (let m = 0; m < MELS; m++)
      out[f * MELS + m] = abs + m / 10 + (loud.includes(abs) ? 1000 : 0);
  }
  return out;
}

function run(
  opts: { windowFrames: number; hopFrames: number },
  total: number,
  chunk = total,
  loud: number[] = [],
) {
  const a = new WindowAssembler({ melBins: MELS, ...opts });
  const out: AssembledWindow[] = [];
  for (let at = 0; at < total; at += chunk)
    out.push(...a.push(frames(at, Math.min(chunk, total - at), loud)));
  out.push(...a.end());
  return out;
}

const spans = (ws: AssembledWindow[]) => ws.map((w) => [w.startFrame, w.frames]);

describe('WindowAssembler', () => {
  it('slides full windows on a hop grid and emits each as soon as its last frame arrives', () => {
    const a = new WindowAssembler({ melBins: MELS, windowFrames: 100, hopFrames: 50 });
    expect(a.push(frames(0, 99))).toEqual([]);
    expect(spans(a.push(frames(99, 1)))).toEqual([[0, 100]]);
    expect(spans(a.push(frames(100, 100)))).toEqual([
      [50, 100],
      [100, 100],
    ]);
    expect(a.end()).toEqual([]); // frames 0..199 are all covered
  });

  it('lays each window out mel-major [melBins x frames], ready for the model', () => {
    const [w] = run({ windowFrames: 20, hopFrames: 20 }, 45).slice(1, 2);
    expect(w.startFrame).toBe(20);
    for (let m = 0; m < MELS; m++) {
      for (let f = 0; f < 20; f++) expect(w.data[m * 20 + f]).toBeCloseTo(20 + f + m / 10, 4);
    }
  });

  it('gives the same windows whatever the push sizes', () => {
    const all = run({ windowFrames: 100, hopFrames: 50 }, 537, 537, [123, 400]);
    for (const chunk of [1, 7, 50, 99, 100, 333]) {
      const got = run({ windowFrames: 100, hopFrames: 50 }, 537, chunk, [123, 400]);
      expect(spans(got)).toEqual(spans(all));
      got.forEach((w, i) => {
        expect(w.peakFrame).toBe(all[i].peakFrame);
        expect(Array.from(w.data)).toEqual(Array.from(all[i].data));
      });
    }
  });

  it('ends with a shorter window over frames no full window reached, never padded', () => {
    expect(spans(run({ windowFrames: 100, hopFrames: 50 }, 260))).toEqual([
      [0, 100],
      [50, 100],
      [100, 100],
      [150, 100],
      [200, 60],
    ]);
  });

  it('drops a trailing remainder shorter than 16 frames', () => {
    expect(spans(run({ windowFrames: 100, hopFrames: 100 }, 215))).toEqual([
      [0, 100],
      [100, 100],
    ]);
    expect(spans(run({ windowFrames: 100, hopFrames: 100 }, 216))).toEqual([
      [0, 100],
      [100, 100],
      [200, 16],
    ]);
  });

  it('emits a stream shorter than one window as its only window, even under 16 frames', () => {
    expect(spans(run({ windowFrames: 100, hopFrames: 50 }, 60))).toEqual([[0, 60]]);
    expect(spans(run({ windowFrames: 100, hopFrames: 50 }, 5))).toEqual([[0, 5]]);
    expect(run({ windowFrames: 100, hopFrames: 50 }, 0)).toEqual([]);
  });

  it('honours a custom minimum width for the trailing window', () => {
    const a = new WindowAssembler({ melBins: MELS, windowFrames: 10, hopFrames: 10, minFrames: 4 });
    a.push(frames(0, 23));
    expect(a.end()).toEqual([]);
    const b = new WindowAssembler({ melBins: MELS, windowFrames: 10, hopFrames: 10, minFrames: 3 });
    b.push(frames(0, 23));
    expect(spans(b.end())).toEqual([[20, 3]]);
  });

  it('skips the gaps when the hop is longer than the window', () => {
    // Frames 20-29, 50-59, ... belong to no window; the 5-frame tail at 120 is under 16.
    expect(spans(run({ windowFrames: 20, hopFrames: 30 }, 125, 7))).toEqual([
      [0, 20],
      [30, 20],
      [60, 20],
      [90, 20],
    ]);
    const ws = run({ windowFrames: 20, hopFrames: 30 }, 140, 7);
    expect(spans(ws)).toEqual([
      [0, 20],
      [30, 20],
      [60, 20],
      [90, 20],
      [120, 20],
    ]);
    expect(ws[4].data[0]).toBeCloseTo(120, 4);
  });

  it('reports the absolute index of the loudest frame as peakFrame', () => {
    const ws = run({ windowFrames: 100, hopFrames: 50 }, 300, 300, [123]);
    const holding = ws.filter((w) => w.startFrame <= 123 && 123 < w.startFrame + w.frames);
    expect(holding.length).toBe(2);
    for (const w of holding) expect(w.peakFrame).toBe(123);
    // Elsewhere the values rise with the frame index, so a window's last frame is loudest.
    expect(ws[0].peakFrame).toBe(99);
  });

  it('picks the first frame on ties', () => {
    const a = new WindowAssembler({ melBins: MELS, windowFrames: 20, hopFrames: 20 });
    const [w] = a.push(new Float32Array(20 * MELS).fill(-0.5));
    expect(w.peakFrame).toBe(0);
  });

  it('taken up at any frame, emits the windows of the whole stream from the next grid start on', () => {
    const opts = { windowFrames: 100, hopFrames: 50 };
    for (const total of [260, 537, 216]) {
      const all = run(opts, total, 37, [123, 400]);
      for (const startFrame of [1, 49, 50, 51, 120, 199, total - 10]) {
        const a = new WindowAssembler({ melBins: MELS, ...opts, startFrame });
        const from = Math.ceil(startFrame / 50) * 50;
        expect(a.nextWindowStart).toBe(from);
        const got: AssembledWindow[] = [];
        for (let at = startFrame; at < total; at += 23)
          got.push(...a.push(frames(at, Math.min(23, total - at), [123, 400])));
        got.push(...a.end());
        const expected = all.filter((w) => w.startFrame >= from);
        expect(spans(got)).toEqual(spans(expected));
        got.forEach((w, i) => {
          expect(w.peakFrame).toBe(expected[i].peakFrame);
          expect(Array.from(w.data)).toEqual(Array.from(expected[i].data));
        });
      }
    }
  });

  it('rejects bad options and ragged input, and input after end()', () => {
    expect(() => new WindowAssembler({ melBins: 0, windowFrames: 10, hopFrames: 5 })).toThrow(
      RangeError,
    );
    expect(() => new WindowAssembler({ melBins: 4, windowFrames: 10, hopFrames: 0 })).toThrow(
      RangeError,
    );
    const a = new WindowAssembler({ melBins: 4, windowFrames: 10, hopFrames: 5 });
    expect(() => a.push(new Float32Array(6))).toThrow(/whole number/);
    a.end();
    expect(() => a.push(new Float32Array(4))).toThrow(/ended/);
  });
});
