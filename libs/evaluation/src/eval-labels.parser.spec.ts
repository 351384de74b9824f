import { parseEvalLabels } from './eval-labels.parser';

describe('parseEvalLabels', () => {
  it('reads the corpus format, resolving files next to the labels', () => {
    const set = parseEvalLabels(
      {
        items: [
          {
            file: 'audio/glass.ogg',
            source: 'owner/repo',
            classes: ['glass_break'],
            events: [{ class: 'glass_break', start: 0.5, end: 1.2 }],
          },
          { file: 'audio/rain.ogg', source: 'other/repo', classes: [], events: [] },
        ],
      },
      '/data/eval/labels.json',
    );
    expect(set.items).toEqual([
      {
        file: 'audio/glass.ogg',
        path: '/data/eval/audio/glass.ogg',
        source: 'owner/repo',
        classes: ['glass_break'],
        events: [{ cls: 'glass_break', start: 0.5, end: 1.2 }],
      },
      {
        file: 'audio/rain.ogg',
        path: '/data/eval/audio/rain.ogg',
        source: 'other/repo',
        classes: [],
        events: [],
      },
    ]);
  });

  it('reads the clips format: clips with alert, presence lists and video spans', () => {
    const set = parseEvalLabels(
      {
        about: 'x',
        clips: {
          'clips/a.mp4': {
            audio: [{ class: 'alarm', start: 2, end: 7 }],
            video: [{ class: 'person', start: 0, end: 10, label: 'person' }],
            expect_incident: 'alarm',
            alert: true,
          },
        },
        audio: { 'audio/dog.flac': ['dog_bark'] },
        images: { 'images/empty.jpg': [] },
        video: { 'video/walk.mp4': { person: [[6, 20]], note: 'no audio' } },
      },
      '/f/labels.json',
      '/root',
    );
    expect(set.items.map((i) => [i.path, i.classes, i.events.length, i.expectAlert])).toEqual([
      ['/root/clips/a.mp4', ['alarm', 'person'], 2, true],
      ['/root/audio/dog.flac', ['dog_bark'], 0, undefined],
      ['/root/images/empty.jpg', [], 0, undefined],
      ['/root/video/walk.mp4', ['person'], 1, undefined],
    ]);
  });

  it.each([
    [
      { items: [{ file: 'a.ogg', classes: ['glass'] }] },
      'items[0] (a.ogg).classes[0]: unknown class "glass"',
    ],
    [
      {
        items: [
          { file: 'a.ogg', classes: ['scream'], events: [{ class: 'scream', start: 2, end: 1 }] },
        ],
      },
      'items[0] (a.ogg).events[0].end: expected seconds >= start, got 1',
    ],
    [
      { items: [{ file: 'a.ogg', classes: [], events: [{ class: 'scream', start: 0, end: 1 }] }] },
      'event class "scream" is not in its classes',
    ],
    [{ items: [{ classes: [] }] }, 'items[0].file: expected a non-empty string'],
    [{ items: [] }, 'no items to score'],
    [{ foo: 1 }, 'expected "items" or "clips"'],
    [{ items: [{ file: 'a.ogg' }, { file: 'a.ogg' }] }, 'a.ogg: listed twice'],
  ])('names the problem: %j', (raw, message) => {
    expect(() => parseEvalLabels(raw, '/x/labels.json')).toThrow(message);
  });
});
