import { SITE_ID_PATTERN, type SiteDefinition, SiteDirectory } from '@app/contracts';
import { ConfigError } from './config.error';
import { ConfigReader } from './config.reader';

/** What the API accepts as a stream id (StartStream), so a site names streams that can exist. */
const STREAM_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The config file's `sites`: each site lists its zones' cameras and cameras in no zone, by
 * stream id. A camera belongs to one site and one zone at most; everything is checked here,
 * once, and an error names the key at fault.
 *
 * ```yaml
 * sites:
 *   - id: hq
 *     zones: [{ id: lobby, streams: [cam-door, cam-desk] }]
 *     streams: [cam-yard]
 * ```
 */
export function parseSites(raw: unknown, key = 'sites'): SiteDirectory {
  if (raw === undefined || raw === null) return new SiteDirectory();
  if (!Array.isArray(raw)) throw new ConfigError(key, 'must be a list of sites');
  const owner = new Map<string, string>();
  const siteIds = new Set<string>();
  const claim = (stream: unknown, where: string, what: string): string => {
    if (typeof stream !== 'string' || !STREAM_ID.test(stream)) {
      throw new ConfigError(where, 'must be a stream id (1-128 of A-Z a-z 0-9 . _ : -)');
    }
    const earlier = owner.get(stream);
    if (earlier !== undefined) {
      throw new ConfigError(where, `stream "${stream}" is already in ${earlier}`);
    }
    owner.set(stream, what);
    return stream;
  };
  const sites = raw.map((entry, i): SiteDefinition => {
    const reader = new ConfigReader(entry, `${key}[${i}]`);
    const id = reader.string('id');
    if (!id || !SITE_ID_PATTERN.test(id)) {
      throw new ConfigError(reader.key('id'), 'is required: 1-64 of A-Z a-z 0-9 . _ -');
    }
    if (siteIds.has(id)) throw new ConfigError(reader.key('id'), `site "${id}" is declared twice`);
    siteIds.add(id);
    const zoneIds = new Set<string>();
    const zones = reader.list('zones').map((z, j) => {
      const zone = new ConfigReader(z, reader.key(`zones[${j}]`));
      const zoneId = zone.string('id');
      if (!zoneId || !SITE_ID_PATTERN.test(zoneId)) {
        throw new ConfigError(zone.key('id'), 'is required: 1-64 of A-Z a-z 0-9 . _ -');
      }
      if (zoneIds.has(zoneId)) {
        throw new ConfigError(zone.key('id'), `zone "${zoneId}" is declared twice in site "${id}"`);
      }
      zoneIds.add(zoneId);
      const streams = zone
        .list('streams')
        .map((s, k) => claim(s, zone.key(`streams[${k}]`), `site "${id}" zone "${zoneId}"`));
      if (streams.length === 0) throw new ConfigError(zone.key('streams'), 'must list a stream');
      zone.done();
      return { id: zoneId, streams };
    });
    const streams = reader
      .list('streams')
      .map((s, k) => claim(s, reader.key(`streams[${k}]`), `site "${id}"`));
    reader.done();
    if (zones.length === 0 && streams.length === 0) {
      throw new ConfigError(reader.key('streams'), 'a site needs at least one stream');
    }
    return { id, zones, streams };
  });
  return new SiteDirectory(sites);
}
