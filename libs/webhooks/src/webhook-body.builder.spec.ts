import type { EvidenceRef, StoredEvent } from '@app/history';
import { makeStored } from '@app/testing/incident.factory';
import { WebhookBodyBuilder } from './webhook-body.builder';

const SNAPSHOT: EvidenceRef = {
  name: 'snapshot.jpg',
  key: 'evidence/2026/01/01/e1/snapshot.jpg',
  contentType: 'image/jpeg',
  bytes: 48_213,
  sha256: 'ab'.repeat(32),
};
const CLIP: EvidenceRef = {
  name: 'audio.wav',
  key: 'evidence/2026/01/01/e1/audio.wav',
  contentType: 'audio/wav',
  bytes: 64_044,
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
  it('wraps the EventRecord of the gRPC API, with links where the linker has one', () => {
    const builder = new WebhookBodyBuilder((eventId, ref) =>
      ref.name === 'audio.wav'
        ? undefined
        : `https://vigil.example/evidence/${eventId}/${ref.name}`,
    );

    expect(builder.build(stored())).toEqual({
      type: 'vigil.incident',
      version: 2,
      record: {
        event: {
          id: '00000000-0000-4000-8000-000000000001',
          streamId: 'cam-1',
          rule: 'intrusion',
          title: 'Intrusion: glass break with a person in view',
          severity: 'SEVERITY_HIGH',
          startSec: 1,
          endSec: 3,
          trigger: 'glass_break',
          incidentId: '00000000-0000-4000-8000-000000000001',
          version: 1,
          state: 'INCIDENT_STATE_OPENED',
          triggers: ['glass_break'],
          evidence: [
            {
              cls: 'glass_break',
              modality: 'MODALITY_AUDIO',
              score: 0.91,
              atSec: 1,
              box: [],
              streamId: '',
            },
            {
              cls: 'person',
              modality: 'MODALITY_VIDEO',
              score: 0.8,
              atSec: 2,
              box: [10, 20, 110, 220],
              streamId: '',
            },
          ],
          // a camera outside any site: no site, zone or cameras
          site: '',
          zone: '',
          cameras: [],
          absorbedBy: '',
        },
        occurredAtMs: String(Date.UTC(2026, 0, 1, 12, 0, 1)),
        storedAtMs: String(Date.UTC(2026, 0, 1, 12, 0, 1)),
        streamLabels: { camera: 'Lobby', site: 'HQ' },
        evidence: [
          {
            name: 'snapshot.jpg',
            contentType: 'image/jpeg',
            bytes: '48213',
            sha256: 'ab'.repeat(32),
          },
          { name: 'audio.wav', contentType: 'audio/wav', bytes: '64044', sha256: 'cd'.repeat(32) },
        ],
      },
      evidenceUrls: {
        'snapshot.jpg':
          'https://vigil.example/evidence/00000000-0000-4000-8000-000000000001/snapshot.jpg',
      },
    });
  });

  it('serialises to the same bytes whatever order the labels came in', () => {
    const builder = new WebhookBodyBuilder();
    const json = builder.serialize(stored());
    const reordered = builder.serialize({
      ...stored(),
      streamLabels: { camera: 'Lobby', site: 'HQ' },
    });

    expect(reordered).toBe(json);
    expect(Object.keys(JSON.parse(json))).toEqual(['type', 'version', 'record', 'evidenceUrls']);
    expect(json).toContain('"streamLabels":{"camera":"Lobby","site":"HQ"}');
    // the storage key of a file is internal: receivers get links, never keys
    expect(json).not.toContain(SNAPSHOT.key);
  });

  it('names a site incident’s site, zone and cameras, and each detection’s camera', () => {
    const base = makeStored(3);
    const body = new WebhookBodyBuilder().build({
      ...base,
      event: {
        ...base.event,
        site: 'hq',
        zone: 'lobby',
        cameras: ['cam-2', 'cam-1'],
        evidence: base.event.evidence.map((e) => ({ ...e, streamId: 'cam-2' })),
      },
    });
    expect(body.record.event).toMatchObject({
      site: 'hq',
      zone: 'lobby',
      cameras: ['cam-2', 'cam-1'],
      absorbedBy: '',
    });
    const evidence = body.record.event.evidence as { streamId: string }[];
    expect(evidence.length).toBeGreaterThan(0);
    expect(evidence.every((e) => e.streamId === 'cam-2')).toBe(true);
  });

  it('gives empty labels, evidence and links when the event has none', () => {
    const body = new WebhookBodyBuilder().build(makeStored(2));
    expect(body.record).toMatchObject({ streamLabels: {}, evidence: [] });
    expect(body.evidenceUrls).toEqual({});
  });
});
