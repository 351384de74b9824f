import {
  LABELS_HEADER,
  MAX_LABELS_HEADER_BYTES,
  ORIGIN_HEADER,
  decodeLabelsHeader,
  encodeLabelsHeader,
  isAnalysisOrigin,
} from './stream-headers';

describe('stream headers', () => {
  it('carries labels through a header and back', () => {
    const labels = { site: 'Depot Nord', camera: 'Gate 2 — east' };
    const problems: string[] = [];
    const headers = { [LABELS_HEADER]: encodeLabelsHeader(labels) };
    expect(decodeLabelsHeader(headers, (p) => problems.push(p))).toEqual(labels);
    expect(decodeLabelsHeader({}, (p) => problems.push(p))).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it.each([
    ['{"site":', 'x-vigil-labels ignored: not JSON'],
    ['["a"]', 'x-vigil-labels ignored: must be an object of names to strings'],
    ['{"floor":2}', 'x-vigil-labels ignored: must map names to strings (floor is not one)'],
    ['{"":"x"}', 'x-vigil-labels ignored: must not have an empty name'],
    [
      JSON.stringify({ note: 'x'.repeat(MAX_LABELS_HEADER_BYTES) }),
      `x-vigil-labels ignored: more than ${MAX_LABELS_HEADER_BYTES} bytes`,
    ],
  ])('drops a malformed header %#, saying why', (raw, problem) => {
    const problems: string[] = [];
    expect(decodeLabelsHeader({ [LABELS_HEADER]: raw }, (p) => problems.push(p))).toBeUndefined();
    expect(problems).toEqual([problem]);
  });

  it('refuses to encode what it would refuse to decode', () => {
    expect(() => encodeLabelsHeader({ floor: 2 } as never)).toThrow(/floor is not one/);
    expect(() => encodeLabelsHeader({ note: 'x'.repeat(MAX_LABELS_HEADER_BYTES) })).toThrow(
      RangeError,
    );
  });

  it('tells one-off analyses from streams', () => {
    expect(isAnalysisOrigin({ [ORIGIN_HEADER]: 'analysis' })).toBe(true);
    expect(isAnalysisOrigin({ [ORIGIN_HEADER]: 'stream' })).toBe(false);
    expect(isAnalysisOrigin({})).toBe(false);
  });
});
