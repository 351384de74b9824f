import { frameGeometry, letterboxScaleExpressions, letterboxSize } from './frame.geometry';

describe('frame geometry', () => {
  it('letterboxes a 4:3 source into 416x416 at r = 0.65 with padding below', () => {
    expect(letterboxSize({ width: 640, height: 480 }, { width: 416, height: 416 })).toEqual({
      width: 416,
      height: 312,
    });
    expect(
      frameGeometry(
        { width: 640, height: 480 },
        { width: 416, height: 416, resize: 'letterbox-topleft' },
      ),
    ).toEqual({
      sourceWidth: 640,
      sourceHeight: 480,
      scaleX: 0.65,
      scaleY: 0.65,
      padX: 0,
      padY: 0,
    });
  });

  it('uses the rounded size ffmpeg produces, so scaleX and scaleY may differ slightly', () => {
    expect(letterboxSize({ width: 333, height: 500 }, { width: 416, height: 416 })).toEqual({
      width: 277,
      height: 416,
    });
    const g = frameGeometry(
      { width: 333, height: 500 },
      { width: 416, height: 416, resize: 'letterbox-topleft' },
    );
    expect(g.scaleX).toBeCloseTo(277 / 333, 12);
    expect(g.scaleY).toBeCloseTo(416 / 500, 12);
  });

  it('never scales a side to zero', () => {
    expect(letterboxSize({ width: 10000, height: 1 }, { width: 416, height: 416 })).toEqual({
      width: 416,
      height: 1,
    });
  });

  it('stretches to the target with independent scales', () => {
    expect(
      frameGeometry({ width: 640, height: 480 }, { width: 320, height: 320, resize: 'stretch' }),
    ).toMatchObject({ scaleX: 0.5, scaleY: 320 / 480 });
  });

  it('gives ffmpeg the same formula, escaped for a filter graph', () => {
    expect(letterboxScaleExpressions({ width: 416, height: 320 })).toEqual({
      w: "'if(lte(416*ih\\,320*iw)\\,416\\,max(1\\,round(iw*320/ih)))'",
      h: "'if(lte(416*ih\\,320*iw)\\,max(1\\,round(ih*416/iw))\\,320)'",
    });
  });
});
