import { withPresenceSpans, type EvalItem } from './eval-labels';

describe('withPresenceSpans', () => {
  const item = (over: Partial<EvalItem>): EvalItem => ({
    file: 'a.mp4',
    path: '/a.mp4',
    source: 'a.mp4',
    classes: [],
    events: [],
    ...over,
  });

  it('spans the whole recording for each class listed without spans, keeping measured ones', () => {
    const clip = item({
      classes: ['glass_break', 'person', 'alarm'],
      events: [{ cls: 'glass_break', start: 2, end: 3 }],
    });
    expect(withPresenceSpans(clip, 12.5).events).toEqual([
      { cls: 'glass_break', start: 2, end: 3 },
      { cls: 'person', start: 0, end: 12.5 },
      { cls: 'alarm', start: 0, end: 12.5 },
    ]);
  });

  it('leaves a fully spanned item and a negative as they are', () => {
    const spanned = item({ classes: ['siren'], events: [{ cls: 'siren', start: 0, end: 4 }] });
    expect(withPresenceSpans(spanned, 9)).toBe(spanned);
    const negative = item({});
    expect(withPresenceSpans(negative, 9)).toBe(negative);
  });
});
