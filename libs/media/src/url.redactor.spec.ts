import { redactUrl, redactUrls } from './url.redactor';

describe('redactUrl', () => {
  it('hides credentials and query strings but keeps what identifies the source', () => {
    expect(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/stream1?token=abc&channel=2')).toBe(
      'rtsp://***@10.0.0.5:554/stream1?***',
    );
    expect(redactUrl('https://cdn.example/live/index.m3u8?X-Amz-Signature=deadbeef#t=3')).toBe(
      'https://cdn.example/live/index.m3u8?***',
    );
    expect(redactUrl('http://user@host/x.mp4#frag')).toBe('http://***@host/x.mp4#***');
  });

  it('uses the last @ so an unencoded @ in a password does not leak', () => {
    expect(redactUrl('rtsp://admin:p@ss@cam.local/live')).toBe('rtsp://***@cam.local/live');
  });

  it('leaves plain paths and clean URLs alone', () => {
    expect(redactUrl('/srv/clips/a?b.mp4')).toBe('/srv/clips/a?b.mp4');
    expect(redactUrl('http://127.0.0.1:9/x.mp4')).toBe('http://127.0.0.1:9/x.mp4');
  });
});

describe('redactUrls', () => {
  it('redacts every URL inside a log line and keeps the punctuation around it', () => {
    const line =
      "Input #0, hls, from 'http://u:p@h/a.m3u8?sig=1': [tcp] tcp://h:80?timeout=5: Connection refused";
    expect(redactUrls(line)).toBe(
      "Input #0, hls, from 'http://***@h/a.m3u8?***': [tcp] tcp://h:80?***: Connection refused",
    );
  });
});
