import { EvidenceErrorCode } from './evidence.error';
import { evidenceKey, parseEvidenceKey } from './evidence-key.parser';

const invalidKey = expect.objectContaining({ code: EvidenceErrorCode.INVALID_KEY });

describe('evidence keys', () => {
  it('joins and splits <event-id>/<name>', () => {
    const key = evidenceKey('0ccaf532-5309-5c58-ba9f-4800605d7069', 'snapshot.jpg');
    expect(key).toBe('0ccaf532-5309-5c58-ba9f-4800605d7069/snapshot.jpg');
    expect(parseEvidenceKey(key)).toEqual({
      eventId: '0ccaf532-5309-5c58-ba9f-4800605d7069',
      name: 'snapshot.jpg',
    });
  });

  it.each([
    '..',
    '.',
    '',
    '.hidden',
    '../x',
    'a/b',
    'a\\b',
    '/abs',
    'a\u0000b',
    'a b',
    'a%2f..',
    'x'.repeat(129),
  ])('rejects segment %p', (bad) => {
    expect(() => evidenceKey(bad, 'ok.png')).toThrow(invalidKey);
    expect(() => evidenceKey('event', bad)).toThrow(invalidKey);
  });

  it.each(['../../etc/passwd', 'a/../../b', 'event', 'event/', '/event/name', 'e/n/x', 'e//n'])(
    'rejects key %p',
    (bad) => {
      expect(() => parseEvidenceKey(bad)).toThrow(invalidKey);
    },
  );
});
