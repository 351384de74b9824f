import type { SecurityEvent } from '@app/contracts';
import { strictMock } from '@app/testing';
import type { EvidenceRef, EvidenceStore } from './evidence.store';
import { EvidenceWriter, triggerSec } from './evidence.writer';
import type { SnapshotFrame, SnapshotRenderer } from './snapshot.renderer';
import type { SpectrogramRenderer, SpectrogramSource } from './spectrogram.renderer';

const event: SecurityEvent = {
  id: 'evt-1',
  incidentId: 'evt-1',
  version: 1,
  state: 'opened',
  streamId: 'cam-1',
  rule: 'intrusion',
  title: 'Intrusion: glass break with a person in view',
  severity: 'high',
  startSec: 4.08,
  endSec: 4.5,
  trigger: 'glass_break',
  triggers: ['glass_break'],
  evidence: [
    { cls: 'person', modality: 'video', score: 0.8, atSec: 0.6, box: [1, 2, 3, 4] },
    { cls: 'glass_break', modality: 'audio', score: 0.86, atSec: 4.07 },
    { cls: 'person', modality: 'video', score: 0.9, atSec: 4.0, box: [100, 50, 400, 470] },
  ],
};

const frame: SnapshotFrame & { ptsSec: number } = {
  width: 2,
  height: 2,
  pixels: new Uint8Array(12),
  pixelFormat: 'bgr24',
  geometry: { sourceWidth: 2, sourceHeight: 2, scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
  ptsSec: 4.0,
};
const audioWindow: SpectrogramSource = {
  melBins: 1,
  frames: 1,
  data: new Float32Array(1),
  startSec: 3.57,
};
const audioClip = { samples: new Float32Array([0, 0.5]), sampleRate: 32000 };

function setup(overrides: { jpeg?: jest.Mock; png?: jest.Mock; put?: jest.Mock } = {}) {
  const jpeg = overrides.jpeg ?? jest.fn(async () => new Uint8Array([0xff, 0xd8]));
  const png = overrides.png ?? jest.fn(async () => new Uint8Array([0x89]));
  const put =
    overrides.put ??
    jest.fn(
      async (eventId: string, name: string, bytes: Uint8Array, contentType: string) =>
        ({
          key: `${eventId}/${name}`,
          contentType,
          bytes: bytes.length,
          sha256: 'h',
        }) as EvidenceRef,
    );
  const writer = new EvidenceWriter(
    strictMock<EvidenceStore>('store', { put }),
    strictMock<SnapshotRenderer>('snapshots', { jpeg }),
    strictMock<SpectrogramRenderer>('spectrograms', { png }),
  );
  return { writer, jpeg, png, put };
}

describe('EvidenceWriter', () => {
  it('renders and stores snapshot.jpg, spectrogram.png and audio.wav under the event id', async () => {
    const { writer, put } = setup();
    const result = await writer.write({ event, frame, audioWindow, audioClip });
    expect(result.errors).toEqual([]);
    expect(result.refs).toEqual({
      snapshot: { key: 'evt-1/snapshot.jpg', contentType: 'image/jpeg', bytes: 2, sha256: 'h' },
      spectrogram: {
        key: 'evt-1/spectrogram.png',
        contentType: 'image/png',
        bytes: 1,
        sha256: 'h',
      },
      audio: { key: 'evt-1/audio.wav', contentType: 'audio/wav', bytes: 48, sha256: 'h' },
    });
    const wav = put.mock.calls.find((c) => c[1] === 'audio.wav')![2] as Uint8Array;
    expect(Buffer.from(wav.subarray(0, 4)).toString()).toBe('RIFF');
  });

  it('draws the boxes seen at the frame time, labelled with class and score', async () => {
    const { writer, jpeg } = setup();
    await writer.write({ event, frame });
    expect(jpeg).toHaveBeenCalledWith(
      frame,
      [{ box: [100, 50, 400, 470], label: 'person', score: 0.9 }],
      { caption: 'intrusion t=4.00' },
    );
  });

  it('marks the trigger time on the spectrogram', async () => {
    const { writer, png } = setup();
    await writer.write({ event, audioWindow });
    expect(png).toHaveBeenCalledWith(audioWindow, { frameSec: 0.01, markerSec: 4.07 });
    expect(triggerSec({ ...event, evidence: [] })).toBe(4.08);
  });

  it('stores what it can when one artifact fails, and says which failed', async () => {
    const broken = new Error('ffmpeg exited with 1');
    const { writer, put } = setup({ jpeg: jest.fn(async () => Promise.reject(broken)) });
    const result = await writer.write({ event, frame, audioWindow, audioClip });
    expect(result.errors).toEqual([{ kind: 'snapshot', error: broken }]);
    expect(Object.keys(result.refs).sort()).toEqual(['audio', 'spectrogram']);
    expect(put).toHaveBeenCalledTimes(2);
  });

  it('collects store failures and bad inputs the same way', async () => {
    const put = jest.fn(async () => Promise.reject(new Error('disk full')));
    const { writer } = setup({ put });
    const result = await writer.write({
      event,
      audioWindow,
      audioClip: { samples: new Float32Array(1), sampleRate: 0 },
    });
    expect(result.refs).toEqual({});
    expect(result.errors.map((e) => [e.kind, e.error.message])).toEqual([
      ['spectrogram', 'disk full'],
      ['audio', 'WAV sample rate must be a positive integer (got 0)'],
    ]);
  });

  it('writes nothing when given nothing but the event', async () => {
    const { writer, put } = setup();
    await expect(writer.write({ event })).resolves.toEqual({ refs: {}, errors: [] });
    expect(put).not.toHaveBeenCalled();
  });
});
