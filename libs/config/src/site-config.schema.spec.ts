import { ConfigError } from './config.error';
import { parseSites } from './site-config.schema';

describe('parseSites', () => {
  it('places each camera in its site and zone, and keys a site camera by its site', () => {
    const sites = parseSites([
      { id: 'hq', zones: [{ id: 'lobby', streams: ['cam-a', 'cam-b'] }], streams: ['cam-c'] },
      { id: 'depot', streams: ['cam-d'] },
    ]);
    expect(sites.placementOf('cam-a')).toEqual({ site: 'hq', zone: 'lobby' });
    expect(sites.placementOf('cam-c')).toEqual({ site: 'hq' });
    expect(sites.placementOf('cam-d')).toEqual({ site: 'depot' });
    expect(sites.placementOf('elsewhere')).toBeUndefined();
    expect(sites.camerasOf('hq')).toEqual(['cam-a', 'cam-b', 'cam-c']);
    expect(sites.detectionKey('cam-b')).toBe('site/hq');
    expect(sites.detectionKey('elsewhere')).toBe('elsewhere');
  });

  it('has no sites when the key is absent', () => {
    expect(parseSites(undefined).sites).toEqual([]);
  });

  it.each([
    [{ id: 'x' }, /sites: must be a list of sites/],
    [
      [
        { id: 'hq', streams: ['a'] },
        { id: 'hq', streams: ['b'] },
      ],
      /sites\[1\]\.id: site "hq" is declared twice/,
    ],
    [
      [
        { id: 'hq', streams: ['a'] },
        { id: 'depot', streams: ['a'] },
      ],
      /sites\[1\]\.streams\[0\]: stream "a" is already in site "hq"/,
    ],
    [
      [
        {
          id: 'hq',
          zones: [
            { id: 'z1', streams: ['a'] },
            { id: 'z2', streams: ['a'] },
          ],
        },
      ],
      /sites\[0\]\.zones\[1\]\.streams\[0\]: stream "a" is already in site "hq" zone "z1"/,
    ],
    [[{ id: 'hq', streams: ['no/slash'] }], /sites\[0\]\.streams\[0\]: must be a stream id/],
    [[{ id: 'hq' }], /sites\[0\]\.streams: a site needs at least one stream/],
    [[{ id: 'hq', streams: ['a'], zone: [] }], /sites\[0\]\.zone: is not a known setting/],
    [[{ streams: ['a'] }], /sites\[0\]\.id: is required/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseSites(raw)).toThrow(ConfigError);
    expect(() => parseSites(raw)).toThrow(message);
  });
});
