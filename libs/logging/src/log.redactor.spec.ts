import { redactText, redactValues } from './log.redactor';

describe('redactText', () => {
  it.each([
    ['rtsp://user:pass@cam/stream1', 'rtsp://***@cam/stream1'],
    ['source "rtmp://a:b@h:1935/live?key=k1"', 'source "rtmp://***@h:1935/live?***"'],
    ['authorization: Bearer abc.def-ghi', 'authorization: Bearer ***'],
    ['KAFKA_SASL_PASSWORD=topsecret', 'KAFKA_SASL_PASSWORD=***'],
    ['linkSecret: "xyz"', 'linkSecret: "***"'],
    ['api_key=k-1, next', 'api_key=***, next'],
    ['nothing to hide at /srv/media/a.mp4', 'nothing to hide at /srv/media/a.mp4'],
  ])('%s → %s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});

describe('redactValues', () => {
  it('redacts strings at any depth it walks, errors included, and keeps other values', () => {
    const error = new Error('rtsp://u:p@h/x refused');
    expect(
      redactValues({ n: 1, list: ['http://a:b@h/'], nested: { url: 'rtsp://c:d@h/' }, error }),
    ).toEqual({
      n: 1,
      list: ['http://***@h/'],
      nested: { url: 'rtsp://***@h/' },
      error: expect.objectContaining({ message: 'rtsp://***@h/x refused' }),
    });
  });
});
