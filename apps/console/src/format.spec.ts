import type { IncidentSummary } from './api';
import { NO_FILTERS, matches } from './format';

function incident(over: Partial<IncidentSummary>): IncidentSummary {
  return {
    incidentId: 'i1',
    eventId: 'e1',
    streamId: 'lobby',
    streamLabels: {},
    title: 'Glass break',
    rule: 'glass_break',
    severity: 'high',
    state: 'opened',
    version: 1,
    trigger: 'glass_break',
    triggers: ['glass_break'],
    startSec: 1,
    endSec: 2,
    updatedAt: Date.UTC(2026, 11, 7),
    disposition: 'new',
    evidence: [],
    ...over,
  };
}

describe('matches (the server filter, for incidents pushed live)', () => {
  it('ranks every severity the server sends, info lowest', () => {
    const atLeastLow = { ...NO_FILTERS, severity: 'low' as const };
    expect(matches(incident({ severity: 'info' }), atLeastLow)).toBe(false);
    expect(matches(incident({ severity: 'low' }), atLeastLow)).toBe(true);
    expect(matches(incident({ severity: 'info' }), { ...NO_FILTERS, severity: 'info' })).toBe(true);
    expect(matches(incident({ severity: 'medium' }), { ...NO_FILTERS, severity: 'high' })).toBe(
      false,
    );
  });

  it("counts a site incident as each of its cameras', and a site as its incidents'", () => {
    const site = incident({ streamId: 'door', cameras: ['door', 'hall'], site: 'hq' });
    expect(matches(site, { ...NO_FILTERS, stream: 'hall' })).toBe(true);
    expect(matches(site, { ...NO_FILTERS, stream: 'yard' })).toBe(false);
    expect(matches(site, { ...NO_FILTERS, site: 'hq' })).toBe(true);
    expect(matches(incident({}), { ...NO_FILTERS, site: 'hq' })).toBe(false);
  });
});
