import type { FrameGeometry } from '@app/contracts';
import { strictMock } from '@app/testing';
import { drawText, textWidth } from './bitmap.font';
import type { ImageEncoder, JpegOptions } from './image.encoder';
import { Raster } from './image.raster';
import {
  boxToModelPixels,
  colourFor,
  contentRect,
  labelText,
  outputSize,
  SnapshotRenderer,
  type SnapshotFrame,
} from './snapshot.renderer';

const GREY = 0x72;
const PERSON_RED = colourFor('person');

/**
 * A 416x416 bgr24 model frame of a letterboxed 640x480 source (r = 0.65, picture 416x312 at
 * the top-left, grey below), the picture a flat dark blue so any drawing stands out.
 */
function letterboxed(): SnapshotFrame {
  const geometry: FrameGeometry = {
    sourceWidth: 640,
    sourceHeight: 480,
    scaleX: 0.65,
    scaleY: 0.65,
    padX: 0,
    padY: 0,
  };
  const raster = new Raster(416, 416, 'bgr');
  raster.fill([GREY, GREY, GREY]);
  raster.fillRect({ left: 0, top: 0, right: 415, bottom: 311 }, [10, 20, 60]);
  return { width: 416, height: 416, pixels: raster.pixels, pixelFormat: 'bgr24', geometry };
}

const renderer = new SnapshotRenderer();

describe('geometry mapping', () => {
  it('maps a source box to model pixels with model = source·scale + pad', () => {
    const g = letterboxed().geometry;
    // 100·0.65 = 65, 50·0.65 = 32.5 → 33, 400·0.65 = 260 → last column 259, 470·0.65 = 305.5 → 305.
    expect(boxToModelPixels([100, 50, 400, 470], g)).toEqual({
      left: 65,
      top: 33,
      right: 259,
      bottom: 305,
    });
    const centred = { ...g, scaleX: 0.5, scaleY: 0.5, padX: 10, padY: 20 };
    expect(boxToModelPixels([400, 470, 100, 50], centred)).toEqual({
      left: 60,
      top: 45,
      right: 209,
      bottom: 254,
    });
  });

  it('finds the picture inside the letterbox', () => {
    expect(contentRect(letterboxed())).toEqual({ left: 0, top: 0, right: 415, bottom: 311 });
    const centred = letterboxed();
    centred.geometry = { ...centred.geometry, padY: 52 };
    expect(contentRect(centred)).toEqual({ left: 0, top: 52, right: 415, bottom: 363 });
  });

  it('refuses geometry that puts no picture in the frame', () => {
    const frame = letterboxed();
    frame.geometry = { ...frame.geometry, scaleX: 0 };
    expect(() => contentRect(frame)).toThrow('frame geometry is unusable');
  });
});

describe('SnapshotRenderer.raster', () => {
  it('cuts the letterbox padding away: only the 416x312 picture remains', () => {
    const { raster } = renderer.raster(letterboxed(), []);
    expect([raster.width, raster.height, raster.order]).toEqual([416, 312, 'bgr']);
    for (const [x, y] of [
      [0, 311],
      [415, 311],
      [200, 300],
    ]) {
      expect(raster.get(x, y)).toEqual([10, 20, 60]);
    }
  });

  it('draws a 2-px box exactly where the source box lands, in the frame channel order', () => {
    const { raster, boxes } = renderer.raster(letterboxed(), [
      { box: [100, 50, 400, 470], label: 'person', score: 0.87 },
    ]);
    expect(boxes).toEqual([{ left: 65, top: 33, right: 259, bottom: 305 }]);
    const at = (x: number, y: number) => raster.get(x, y);
    // Left edge: columns 65 and 66; 64 and 67 untouched (mid-height, away from the label).
    expect([at(64, 200), at(65, 200), at(66, 200), at(67, 200)]).toEqual([
      [10, 20, 60],
      PERSON_RED,
      PERSON_RED,
      [10, 20, 60],
    ]);
    // Right edge 258..259, bottom edge 304..305.
    expect([at(257, 200), at(258, 200), at(259, 200), at(260, 200)]).toEqual([
      [10, 20, 60],
      PERSON_RED,
      PERSON_RED,
      [10, 20, 60],
    ]);
    expect([at(150, 303), at(150, 304), at(150, 305), at(150, 306)]).toEqual([
      [10, 20, 60],
      PERSON_RED,
      PERSON_RED,
      [10, 20, 60],
    ]);
    // Memory is bgr like the frame: red sits in the third byte.
    const i = (200 * 416 + 65) * 3;
    expect([...raster.pixels.subarray(i, i + 3)]).toEqual([...PERSON_RED].reverse());
  });

  it('puts the label on a box-coloured tab above the box', () => {
    const { raster } = renderer.raster(letterboxed(), [
      { box: [100, 50, 400, 470], label: 'person', score: 0.87 },
    ]);
    const text = 'person 87%';
    expect(labelText({ label: 'person', score: 0.87 })).toBe(text);
    // Tab: 11 px high (7 + 2·2) ending just above the box top (33), from the box's left edge.
    const tabTop = 33 - 11;
    expect(raster.get(65, tabTop)).toEqual(PERSON_RED);
    expect(raster.get(65 + textWidth(text) + 3, 32)).toEqual(PERSON_RED);
    expect(raster.get(65, tabTop - 1)).toEqual([10, 20, 60]);
    const expected = new Raster(textWidth(text), 7);
    expected.fill(PERSON_RED);
    drawText(expected, text, 0, 0, [255, 255, 255]);
    for (let y = 0; y < 7; y++) {
      for (let x = 0; x < expected.width; x++) {
        expect(raster.get(67 + x, tabTop + 2 + y)).toEqual(expected.get(x, y));
      }
    }
  });

  it('keeps labels of boxes at the top or right edge inside the picture', () => {
    const { raster } = renderer.raster(letterboxed(), [
      { box: [600, 0, 640, 100], label: 'vehicle', score: 0.5 },
    ]);
    const width = textWidth('vehicle 50%') + 4;
    // No room above: the tab sits inside the box, pushed left to end at the right edge.
    expect(raster.get(415, 0)).toEqual(colourFor('vehicle'));
    expect(raster.get(416 - width, 5)).toEqual(colourFor('vehicle'));
    expect(raster.get(416 - width - 1, 5)).toEqual([10, 20, 60]);
  });

  it('writes dark text on light tabs and draws an optional caption top-left', () => {
    const { raster } = renderer.raster(
      letterboxed(),
      [{ box: [300, 300, 500, 450], label: 'vehicle' }],
      { caption: 'T=4.00' },
    );
    // Orange tab: its text is black. Caption: white on black.
    const tabTop = Math.round(300 * 0.65) - 11;
    const inked: number[][] = [];
    for (let x = 0; x < textWidth('vehicle'); x++) {
      for (let y = 0; y < 7; y++) inked.push([...raster.get(197 + x, tabTop + 2 + y)]);
    }
    expect(inked).toContainEqual([0, 0, 0]);
    expect(inked).not.toContainEqual([255, 255, 255]);
    expect(raster.get(0, 0)).toEqual([0, 0, 0]);
    expect(raster.get(textWidth('T=4.00') + 3, 10)).toEqual([0, 0, 0]);
  });

  it('leaves the caller frame untouched', () => {
    const frame = letterboxed();
    const before = Buffer.from(frame.pixels);
    renderer.raster(frame, [{ box: [0, 0, 640, 480], label: 'person' }], { caption: 'x' });
    expect(Buffer.compare(Buffer.from(frame.pixels), before)).toBe(0);
  });

  it('rejects a pixel buffer that does not match the frame size', () => {
    const frame = { ...letterboxed(), pixels: new Uint8Array(10) };
    expect(() => renderer.raster(frame, [])).toThrow('needs 519168 bytes (got 10)');
  });
});

describe('SnapshotRenderer.jpeg', () => {
  function withEncoder() {
    const jpeg = jest.fn(async (_raster: Raster, _options?: JpegOptions) => new Uint8Array([1]));
    return { jpeg, renderer: new SnapshotRenderer(strictMock<ImageEncoder>('encoder', { jpeg })) };
  }

  it('encodes at the camera size with quality 3 by default', async () => {
    const { jpeg, renderer: r } = withEncoder();
    await r.jpeg(letterboxed(), []);
    const [raster, options] = jpeg.mock.calls[0];
    expect([raster.width, raster.height]).toEqual([416, 312]);
    expect(options).toEqual({ quality: 3, width: 640, height: 480 });
  });

  it('can keep model pixels, and caps the upscale of large cameras', async () => {
    const { jpeg, renderer: r } = withEncoder();
    await r.jpeg(letterboxed(), [], { size: 'model', quality: 5 });
    expect(jpeg.mock.calls[0][1]).toEqual({ quality: 5 });
    expect(outputSize({ sourceWidth: 3840, sourceHeight: 2160 })).toEqual({
      width: 1280,
      height: 720,
    });
    expect(outputSize({ sourceWidth: 640, sourceHeight: 480 }, 320)).toEqual({
      width: 320,
      height: 240,
    });
  });
});
