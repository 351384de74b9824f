import type { Bus } from '@app/bus';
import { type SecurityEvent, Topics } from '@app/contracts';
import type { EvidenceRequest } from '@app/evidence';
import { triggerMomentId } from '@app/fusion';
import { strictMock } from '@app/testing/strict-mock';
import { EdgeEvidenceSender, type EdgeEvidenceSenderDeps } from './edge-evidence.sender';
import { CAPTURE_EPOCH_HEADER, LABELS_HEADER, RUN_HEADER } from './stream-headers';

const event: SecurityEvent = {
  id: 'ver-1',
  incidentId: 'inc-1',
  version: 1,
  state: 'opened',
  streamId: 'cam-1',
  rule: 'intrusion',
  title: 'Intrusion',
  severity: 'high',
  startSec: 4,
  endSec: 4.5,
  trigger: 'glass_break',
  triggers: ['glass_break'],
  evidence: [{ cls: 'glass_break', modality: 'audio', score: 0.9, atSec: 4.07 }],
};
const request: EvidenceRequest = {
  event,
  audioClip: { samples: new Float32Array(4), sampleRate: 32000 },
};
const wav = { name: 'audio.wav', contentType: 'audio/wav', data: Uint8Array.from([1, 2, 3]) };
const jpg = { name: 'snapshot.jpg', contentType: 'image/jpeg', data: Uint8Array.from([4, 5]) };
const headers = {
  [LABELS_HEADER]: '{"site":"hq"}',
  [RUN_HEADER]: 'run-7',
  [CAPTURE_EPOCH_HEADER]: '1700000000000',
};

describe('EdgeEvidenceSender', () => {
  function sender(deps: Partial<EdgeEvidenceSenderDeps> = {}) {
    const publish = jest.fn(async () => undefined);
    const sent = jest.fn();
    const warnings: string[] = [];
    const subject = new EdgeEvidenceSender(
      {
        bus: strictMock<Bus>('Bus', { publish }),
        tap: strictMock<EdgeEvidenceSenderDeps['tap']>('EvidenceTap', {
          capture: jest.fn(async () => request),
        }),
        writer: strictMock<EdgeEvidenceSenderDeps['writer']>('EvidenceWriter', {
          write: jest.fn(async () => ({ refs: {}, errors: [] })),
        }),
        artifacts: strictMock<EdgeEvidenceSenderDeps['artifacts']>('EvidenceCollector', {
          take: jest.fn(() => [wav, jpg]),
        }),
        observer: { sent },
        logger: { warn: (message) => warnings.push(message) },
        ...deps,
      },
      { captureTimeoutMs: 1500 },
    );
    return { subject, publish, sent, warnings };
  }

  it('renders what the tap holds for a version and publishes it keyed by stream, with the run headers', async () => {
    const capture = jest.fn(async () => request);
    const write = jest.fn(async () => ({ refs: {}, errors: [] }));
    const take = jest.fn(() => [wav, jpg]);
    const { subject, publish, sent, warnings } = sender({
      tap: { capture },
      writer: { write },
      artifacts: { take },
    });
    const published = await subject.send(event, headers);
    expect(capture).toHaveBeenCalledWith(event, {
      timeoutMs: 1500,
      signal: expect.any(AbortSignal),
    });
    expect(write).toHaveBeenCalledWith(request);
    expect(take).toHaveBeenCalledWith('ver-1');
    const expected = {
      eventId: 'ver-1',
      incidentId: 'inc-1',
      version: 1,
      streamId: 'cam-1',
      artifacts: [wav, jpg],
      // A site incident triggered by the same detection finds this evidence by it.
      momentId: triggerMomentId(event),
    };
    expect(published).toEqual(expected);
    // Not the capture stamp of one detection: what names the run.
    expect(publish).toHaveBeenCalledWith(Topics.edgeEvidence, 'cam-1', expected, {
      [LABELS_HEADER]: '{"site":"hq"}',
      [RUN_HEADER]: 'run-7',
    });
    expect(sent).toHaveBeenCalledWith(2, 5);
    expect(warnings).toEqual([]);
  });

  it('sends nothing for a closing version, which adds no detection', async () => {
    const capture = jest.fn();
    const { subject, publish } = sender({ tap: { capture } });
    expect(await subject.send({ ...event, state: 'closed' }, headers)).toBeUndefined();
    expect(capture).not.toHaveBeenCalled();
    expect(publish).not.toHaveBeenCalled();
  });

  it('sends what could be rendered and names what failed', async () => {
    const write = jest.fn(async () => ({
      refs: {},
      errors: [{ kind: 'snapshot' as const, error: new Error('ffmpeg died') }],
    }));
    const { subject, publish, warnings } = sender({
      writer: { write },
      artifacts: { take: () => [wav] },
    });
    expect((await subject.send(event, headers))?.artifacts).toEqual([wav]);
    expect(publish).toHaveBeenCalledTimes(1);
    expect(warnings).toEqual(['evidence snapshot for ver-1 failed: ffmpeg died']);
  });

  it('publishes nothing, and forgets what was rendered, when the tap fails or had no media', async () => {
    const take = jest.fn(() => []);
    const { subject, publish, warnings } = sender({
      tap: { capture: jest.fn(async () => Promise.reject(new Error('stopped'))) },
      artifacts: { take },
    });
    expect(await subject.send(event, headers)).toBeUndefined();
    expect(take).toHaveBeenCalledWith('ver-1');
    expect(publish).not.toHaveBeenCalled();
    expect(warnings).toEqual([
      'evidence for ver-1 failed: stopped',
      'event ver-1: no media buffered for its evidence; none sent',
    ]);
  });
});
