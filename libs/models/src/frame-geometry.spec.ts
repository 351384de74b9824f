import { scaledGeometry, toSourceBox } from './frame-geometry';

describe('frame geometry', () => {
  it('undoes scale and padding, then clips to the source frame', () => {
    const g = {
      sourceWidth: 768,
      sourceHeight: 576,
      scaleX: 0.5,
      scaleY: 0.25,
      padX: 10,
      padY: 20,
    };
    expect(toSourceBox(60, 45, 110, 70, g)).toEqual([100, 100, 200, 200]);
    expect(toSourceBox(0, 0, 500, 400, g)).toEqual([0, 0, 768, 576]);
  });

  it('derives scale from the size the resizer really produced', () => {
    expect(scaledGeometry(768, 576, 416, 312)).toEqual({
      sourceWidth: 768,
      sourceHeight: 576,
      scaleX: 416 / 768,
      scaleY: 312 / 576,
      padX: 0,
      padY: 0,
    });
  });
});
