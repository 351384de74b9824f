import type { SecurityEvent } from '@app/contracts';
import type { StoredEvent } from '@app/history';

/** A fused incident as fusion makes them; `n` keeps ids distinct and deterministic. */
export function makeIncident(n: number, overrides: Partial<SecurityEvent> = {}): SecurityEvent {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    id,
    incidentId: id,
    version: 1,
    state: 'opened',
    streamId: 'cam-1',
    rule: 'intrusion',
    title: 'Intrusion: glass break with a person in view',
    severity: 'high',
    startSec: n,
    endSec: n + 2,
    trigger: 'glass_break',
    triggers: ['glass_break'],
    evidence: [
      { cls: 'glass_break', modality: 'audio', score: 0.91, atSec: n },
      { cls: 'person', modality: 'video', score: 0.8, atSec: n + 1, box: [10, 20, 110, 220] },
    ],
    ...overrides,
  };
}

/** The same incident as the history hands it out, for tests that need no database. */
export function makeStored(n: number, overrides: Partial<SecurityEvent> = {}): StoredEvent {
  return {
    seq: n,
    event: makeIncident(n, overrides),
    occurredAt: Date.UTC(2026, 0, 1, 12, 0, n),
    storedAt: Date.UTC(2026, 0, 1, 12, 0, n),
    evidenceRefs: [],
  };
}
