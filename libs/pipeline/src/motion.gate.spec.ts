import type { VideoFrame } from '@app/contracts';
import { MotionGate } from './motion.gate';

const W = 128;
const H = 96;

/** A gray frame with an optional bright square at (x, y), of side `size`, at `brightness`. */
function frame(
  ptsSec: number,
  square?: { x: number; y: number; size: number },
  gray = 80,
): VideoFrame {
  const pixels = new Uint8Array(W * H * 3).fill(gray);
  if (square) {
    for (let y = square.y; y < square.y + square.size; y++)
      for (let x = square.x; x < square.x + square.size; x++)
        pixels.fill(230, (y * W + x) * 3, (y * W + x) * 3 + 3);
  }
  return {
    streamId: 'cam',
    seq: Math.round(ptsSec * 5),
    ptsSec,
    width: W,
    height: H,
    pixels,
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: W, sourceHeight: H, scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
  };
}

describe('MotionGate', () => {
  it('runs on the first frame, skips a still scene, and runs again every forceEverySec', () => {
    const gate = new MotionGate({ forceEverySec: 2 });
    const runs = [0, 0.2, 0.4, 1.8, 2.0, 2.2, 4.0].map((t) => gate.decide(frame(t)).run);
    expect(runs).toEqual([true, false, false, false, true, false, true]);
  });

  it('runs when something moves, and not on camera noise', () => {
    const gate = new MotionGate();
    gate.decide(frame(0));
    expect(gate.decide(frame(0.2, undefined, 85)).run).toBe(false); // a slight level change
    const moved = gate.decide(frame(0.4, { x: 40, y: 30, size: 16 }));
    expect(moved.run).toBe(true);
    expect(moved.motion).toBeGreaterThan(0.01);
  });

  it('adapts to a lasting change of light instead of running forever', () => {
    const gate = new MotionGate({ forceEverySec: 100 });
    gate.decide(frame(0, undefined, 60));
    const runs = Array.from(
      { length: 40 },
      (_, i) => gate.decide(frame(0.2 * (i + 1), undefined, 160)).run,
    );
    expect(runs[0]).toBe(true); // the lights went on
    expect(runs.slice(-10)).toEqual(Array(10).fill(false)); // the background caught up
  });

  it('runs again when the stream time goes back (a new run of the stream)', () => {
    const gate = new MotionGate();
    gate.decide(frame(5));
    expect(gate.decide(frame(0)).run).toBe(true);
  });
});
