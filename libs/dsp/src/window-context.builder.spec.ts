import { WindowContextBuilder } from './window-context.builder';

const MELS = 3;
const FRAME_SEC = 0.01;

/** Frame f of the stream holds f + m / 10 in mel row m, so any slice shows where it came from. */
function stream(first: number, frames: number): Float32Array {
  const data = new Float32Array(MELS * frames);
  for (let m = 0; m < MELS; m++) {
    for (let f = 0; f < frames; f++) data[m * frames + f] = first + f + m / 10;
  }
  return data;
}

const window = (first: number, frames: number) => ({
  startSec: first * FRAME_SEC,
  frames,
  data: stream(first, frames),
});

describe('WindowContextBuilder', () => {
  const builder = () =>
    new WindowContextBuilder({ melBins: MELS, frameSec: FRAME_SEC, contextFrames: 8 });

  it('extends each window back over the windows before it, up to the context length', () => {
    const context = builder();
    expect(context.extend(window(0, 4))).toEqual({ frames: 4, data: stream(0, 4) });
    expect(context.extend(window(2, 4))).toEqual({ frames: 6, data: stream(0, 6) });
    expect(context.extend(window(4, 4))).toEqual({ frames: 8, data: stream(0, 8) });
    expect(context.extend(window(6, 4))).toEqual({ frames: 8, data: stream(2, 8) });
    // A short last window at the stream's end keeps its place on the grid.
    expect(context.extend(window(8, 3))).toEqual({ frames: 8, data: stream(3, 8) });
  });

  it('starts over after a gap, a window from the past, or a window longer than the context', () => {
    const context = builder();
    context.extend(window(0, 4));
    expect(context.extend(window(6, 4))).toEqual({ frames: 4, data: stream(6, 4) });
    expect(context.extend(window(2, 4))).toEqual({ frames: 4, data: stream(2, 4) });
    expect(context.extend(window(4, 12))).toEqual({ frames: 8, data: stream(8, 8) });
  });

  it('gives the same context again for a window delivered twice', () => {
    const context = builder();
    context.extend(window(0, 4));
    const once = context.extend(window(2, 4));
    expect(context.extend(window(2, 4))).toEqual(once);
  });

  it('says which windows it still holds frames of', () => {
    const context = builder();
    for (const first of [0, 2, 4, 6]) context.extend(window(first, 4));
    // It holds frames 2-9: the first window (0-3) only in part, and all of the later ones.
    expect([0, 2, 4, 6].map((first) => context.holds(window(first, 4)))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    context.extend(window(8, 4));
    expect([0, 2].map((first) => context.holds(window(first, 4)))).toEqual([false, true]);
  });

  it('rejects a window whose data does not match its frames', () => {
    expect(() => builder().extend({ startSec: 0, frames: 4, data: new Float32Array(5) })).toThrow(
      'expected 3 x 4 values, got 5',
    );
  });
});
