import { strictMock } from '@app/testing';
import { drawText, textWidth } from './bitmap.font';
import { EvidenceErrorCode } from './evidence.error';
import type { ImageEncoder } from './image.encoder';
import { Raster } from './image.raster';
import { SpectrogramRenderer, type SpectrogramSource } from './spectrogram.renderer';
import { viridis } from './viridis.colormap';

/** melBins x frames, mel-major, value = f(mel, frame). */
function window(
  melBins: number,
  frames: number,
  f: (mel: number, frame: number) => number,
  startSec = 0,
): SpectrogramSource {
  const data = new Float32Array(melBins * frames);
  for (let m = 0; m < melBins; m++) for (let t = 0; t < frames; t++) data[m * frames + t] = f(m, t);
  return { melBins, frames, data, startSec };
}

const renderer = new SpectrogramRenderer();
const BOTTOM = viridis(0);
const TOP = viridis(1);

describe('SpectrogramRenderer.raster', () => {
  it('is 4 px per frame and 2 px per mel bin, plus a time axis strip below', () => {
    const { raster, layout } = renderer.raster(window(128, 100, () => 0));
    expect([raster.width, layout.plotWidth, layout.plotHeight]).toEqual([400, 400, 256]);
    expect(raster.height).toBeGreaterThan(256 + 7);
    expect(raster.order).toBe('rgb');
  });

  it('puts low frequencies at the bottom', () => {
    // Only the lowest band is loud.
    const { raster, layout } = renderer.raster(window(4, 3, (m) => (m === 0 ? 1 : 0)));
    const bottomRow = layout.plotHeight - 1;
    for (const y of [bottomRow, bottomRow - 1]) expect(raster.get(0, y)).toEqual(TOP);
    for (const y of [0, 1, bottomRow - 2]) expect(raster.get(0, y)).toEqual(BOTTOM);
  });

  it('maps each frame to its own 4-px column block, left to right in time', () => {
    const { raster } = renderer.raster(
      window(2, 3, (_m, t) => t),
      { range: [0, 2] },
    );
    expect([0, 1, 2, 3].map((x) => raster.get(x, 0))).toEqual(Array(4).fill(BOTTOM));
    expect(raster.get(4, 0)).toEqual(viridis(128 / 255));
    expect([8, 11].map((x) => raster.get(x, 0))).toEqual([TOP, TOP]);
  });

  it('scales colours over the given range, clamping outside it and painting NaN as the floor', () => {
    const values = [-10, 0, 5, 10, 99, NaN];
    const { raster } = renderer.raster(
      window(1, values.length, (_m, t) => values[t]),
      {
        range: [0, 10],
      },
    );
    const colours = values.map((_v, t) => raster.get(t * 4, 0));
    expect(colours).toEqual([BOTTOM, BOTTOM, viridis(128 / 255), TOP, TOP, BOTTOM]);
  });

  it('spans the window itself by default: its maximum is yellow, its floor purple', () => {
    const { raster, layout } = renderer.raster(window(2, 40, (_m, t) => -3 + t * 0.1));
    expect(raster.get(39 * 4, 0)).toEqual(TOP);
    expect(raster.get(0, 0)).toEqual(BOTTOM);
    expect(layout.high).toBeCloseTo(0.9, 5);
  });

  it('draws the marker where the marked time falls: frame centres sit mid-column', () => {
    // startSec 3.57, 10 ms frames: 4.07 s is frame 50, columns 200..203.
    const source = window(8, 100, () => 0, 3.57);
    const { raster, layout } = renderer.raster(source, { markerSec: 4.07 });
    expect(layout.markerX).toBe(201);
    for (const y of [0, layout.plotHeight - 1]) {
      expect(raster.get(201, y)).toEqual([255, 32, 32]);
      expect(raster.get(202, y)).toEqual([255, 32, 32]);
      expect(raster.get(200, y)).toEqual(BOTTOM);
      expect(raster.get(203, y)).toEqual(BOTTOM);
    }
  });

  it('skips a marker outside the window', () => {
    const { layout } = renderer.raster(
      window(2, 10, () => 0, 5),
      { markerSec: 1 },
    );
    expect(layout.markerX).toBeUndefined();
  });

  it('labels the time axis in stream seconds under the ticks', () => {
    const { raster, layout } = renderer.raster(window(4, 100, () => 0, 3.57));
    // 4.0 s: frame 43, centre at column 43·4 + 2 = 174 → tick there, label centred below.
    const tickY = layout.plotHeight;
    expect(raster.get(174, tickY)).toEqual([255, 255, 255]);
    expect(raster.get(174, tickY + 4)).toEqual([255, 255, 255]);
    expect(raster.get(175, tickY)).toEqual([0, 0, 0]);
    // 0.1 s minor tick at 4.1 s → column 214, shorter.
    expect(raster.get(214, tickY + 1)).toEqual([255, 255, 255]);
    expect(raster.get(214, tickY + 4)).toEqual([0, 0, 0]);

    const expected = new Raster(textWidth('4.0'), 7);
    drawText(expected, '4.0', 0, 0, [255, 255, 255]);
    const left = Math.round(174 - textWidth('4.0') / 2);
    const top = tickY + 7;
    for (let y = 0; y < 7; y++) {
      for (let x = 0; x < expected.width; x++) {
        expect(raster.get(left + x, top + y)).toEqual(expected.get(x, y));
      }
    }
  });

  it.each([
    [{ melBins: 0, frames: 5, data: new Float32Array(0), startSec: 0 }, 'at least one mel bin'],
    [{ melBins: 2, frames: 5, data: new Float32Array(9), startSec: 0 }, 'holds 9 values'],
  ])('rejects unusable windows (%#)', (source, message) => {
    expect(() => renderer.raster(source)).toThrow(message);
    expect(() => renderer.raster(source)).toThrow(
      expect.objectContaining({ code: EvidenceErrorCode.INVALID_INPUT }),
    );
  });

  it('rejects a zero frame hop', () => {
    expect(() =>
      renderer.raster(
        window(1, 1, () => 0),
        { frameSec: 0 },
      ),
    ).toThrow('frameSec');
  });
});

describe('SpectrogramRenderer.png', () => {
  it('hands the raster to the encoder', async () => {
    const png = jest.fn(async (raster: Raster) => new Uint8Array([raster.width, raster.height]));
    const withEncoder = new SpectrogramRenderer(strictMock<ImageEncoder>('encoder', { png }));
    const bytes = await withEncoder.png(window(3, 5, () => 0));
    expect(bytes[0]).toBe(20);
    expect(png).toHaveBeenCalledTimes(1);
  });
});
