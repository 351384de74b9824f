/** Where a camera (stream) stands: its site, and its zone within the site if it has one. */
export interface SitePlacement {
  site: string;
  zone?: string;
}

/** A site as the config file declares it: its zones' cameras, and cameras in no zone. */
export interface SiteDefinition {
  id: string;
  zones: { id: string; streams: string[] }[];
  /** Cameras of the site in none of its zones. */
  streams: string[];
}

/** What a site or zone id may be (config `sites`), so a filter naming one is checked alike. */
export const SITE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The message key of a site's detections: no stream id has a `/` in it, so none can pass for one. */
const SITE_KEY_PREFIX = 'site/';

/**
 * Which cameras belong to which site and zone (validated when the config is read: a camera is
 * in one site and one zone at most). Streams in no site behave as if there were no sites.
 */
export class SiteDirectory {
  private readonly placements = new Map<string, SitePlacement>();
  private readonly cameras = new Map<string, string[]>();

  constructor(readonly sites: readonly SiteDefinition[] = []) {
    for (const site of sites) {
      const all: string[] = [];
      for (const zone of site.zones) {
        for (const stream of zone.streams) {
          this.placements.set(stream, { site: site.id, zone: zone.id });
          all.push(stream);
        }
      }
      for (const stream of site.streams) {
        this.placements.set(stream, { site: site.id });
        all.push(stream);
      }
      this.cameras.set(site.id, all);
    }
  }

  placementOf(streamId: string): SitePlacement | undefined {
    return this.placements.get(streamId);
  }

  camerasOf(site: string): readonly string[] {
    return this.cameras.get(site) ?? [];
  }

  /**
   * The key a stream's detections are published under: its site's for cameras of a site, so
   * every camera of a site lands on one partition and so on one fusion replica, in one order
   * (a site rule needs all of them, and its state is checkpointed under that key); the stream's
   * own id otherwise, as before.
   */
  detectionKey(streamId: string): string {
    const placement = this.placements.get(streamId);
    return placement ? siteKey(placement.site) : streamId;
  }
}

export function siteKey(site: string): string {
  return `${SITE_KEY_PREFIX}${site}`;
}

/** The site of a `site/<id>` key; undefined for a stream's own key. */
export function siteOfKey(key: string): string | undefined {
  return key.startsWith(SITE_KEY_PREFIX) ? key.slice(SITE_KEY_PREFIX.length) : undefined;
}
