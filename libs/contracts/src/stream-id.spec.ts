import { streamIdFor } from './stream-id';

describe('streamIdFor', () => {
  it.each([
    ['/data/clips/comp01_person_glassbreak.mp4', 'comp01_person_glassbreak'],
    ['file:///data/front door.mkv', 'front-door'],
    ['rtsp://user:secret@cam7.local:554/stream1', 'cam7.local-stream1'],
    ['https://example.com/live/index.m3u8?token=abc', 'example.com-live-index'],
    ['', 'stream'],
  ])('%s → %s', (source, id) => {
    expect(streamIdFor(source)).toBe(id);
  });

  it('never carries credentials into the id', () => {
    expect(streamIdFor('rtsp://admin:hunter2@10.0.0.5/ch1')).not.toMatch(/hunter2|admin/);
  });
});
