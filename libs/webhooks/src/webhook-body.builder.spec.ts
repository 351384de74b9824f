import type { EvidenceRef, StoredEvent } from '@app/history';
import { makeStored } from '@app/testing/incident.factory';
import { WebhookBodyBuilder } from './webhook-body.builder';

const SNAPSHOT: EvidenceRef = {
  name: 'snapshot',
  key: 'evidence/2026/01/01/e1/snapshot.jpg',
  contentType: 'image/jpeg',
  bytes: 48_213,
  sha256: 'ab'.repeat(32),
};
const CLIP: EvidenceRef = {
  name: 'clip',
  key: 'evidence/2026/01/01/e1/clip.mp4',
  contentType: 'video/mp4',
  bytes: 1_204_555,
  sha256: 'cd'.repeat(32),
};

function stored(): StoredEvent {
  return {
    ...makeStored(1),
    // keys given out of order on purpose
    streamLabels: { site: 'HQ', camera: 'Lobby' },
    evidenceRefs: [SNAPSHOT, CLIP],
  };
}

describe('WebhookBodyBuilder', () => {
  it('builds the documented body, with links where the linker has one', () => {
    const builder = new WebhookBodyBuilder((eventId, ref) =>
      ref.name === 'clip' ? undefined : `https://vigil.example/evidence/${eventId}/${ref.name}`,
    );

    expect(builder.build(stored())).toEqual({
      type: 'vigil.incident',
      version: 1,
      eventId: '00000000-0000-4000-8000-000000000001',
      streamId: 'cam-1',
      labels: { camera: 'Lobby', site: 'HQ' },
      rule: 'intrusion',
      title: 'Intrusion: glass break with a person in view',
      class: 'glass_break',
      severity: 'high',
      startSec: 1,
      endSec: 3,
      occurredAt: '2026-01-01T12:00:01.000Z',
      detections: [
        { class: 'glass_break', modality: 'audio', score: 0.91, atSec: 1 },
        { class: 'person', modality: 'video', score: 0.8, atSec: 2, box: [10, 20, 110, 220] },
      ],
      evidence: [
        {
          name: 'snapshot',
          contentType: 'image/jpeg',
          bytes: 48_213,
          sha256: 'ab'.repeat(32),
          url: 'https://vigil.example/evidence/00000000-0000-4000-8000-000000000001/snapshot',
        },
        { name: 'clip', contentType: 'video/mp4', bytes: 1_204_555, sha256: 'cd'.repeat(32) },
      ],
    });
  });

  it('serialises with a fixed key order, whatever order the labels came in', () => {
    const builder = new WebhookBodyBuilder();
    const json = builder.serialize(stored());
    const reordered = builder.serialize({
      ...stored(),
      streamLabels: { camera: 'Lobby', site: 'HQ' },
    });

    expect(reordered).toBe(json);
    expect(Object.keys(JSON.parse(json))).toEqual([
      'type',
      'version',
      'eventId',
      'streamId',
      'labels',
      'rule',
      'title',
      'class',
      'severity',
      'startSec',
      'endSec',
      'occurredAt',
      'detections',
      'evidence',
    ]);
    expect(json).toContain('"labels":{"camera":"Lobby","site":"HQ"}');
    // the storage key of a file is internal: receivers get links, never keys
    expect(json).not.toContain(SNAPSHOT.key);
  });

  it('gives empty labels and evidence when the event has none', () => {
    const body = new WebhookBodyBuilder().build(makeStored(2));
    expect(body.labels).toEqual({});
    expect(body.evidence).toEqual([]);
  });
});
