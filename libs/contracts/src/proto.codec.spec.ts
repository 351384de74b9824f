import type {
  AudioChunk,
  AudioFeatureWindow,
  DetectionSet,
  SecurityEvent,
  StreamCommand,
  StreamStatus,
  VideoFrame,
  WebhookDeadLetter,
} from './messages';
import { CodecError, codecFor } from './proto.codec';
import { type Topic, Topics } from './topics';

/**
 * Every field of every TypeScript message type survives the protobuf round trip. A field added
 * to a type but not to the .proto (or renamed in one of them) fails here: this is the drift
 * check between the contract and the code.
 */
describe('protobuf codecs', () => {
  const chunk: AudioChunk = {
    streamId: 'cam-1',
    seq: 7,
    startSec: 0.7,
    sampleRate: 32000,
    samples: Float32Array.from([0, 0.5, -1, 0.25]),
  };
  const frame: VideoFrame = {
    streamId: 'cam-1',
    seq: 3,
    ptsSec: 0.6,
    width: 2,
    height: 1,
    pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]),
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: 640, sourceHeight: 480, scaleX: 0.65, scaleY: 0.65, padX: 0, padY: 0 },
  };
  const window: AudioFeatureWindow = {
    streamId: 'cam-1',
    seq: 2,
    startSec: 1,
    endSec: 2,
    melBins: 2,
    frames: 2,
    data: Float32Array.from([0.1, 0.2, 0.3, 0.4]),
    peakSec: 1.37,
  };
  const detections: DetectionSet = {
    streamId: 'cam-1',
    modality: 'video',
    seq: 3,
    startSec: 0.6,
    endSec: 0.6,
    atSec: 0.6,
    model: 'yolox-nano',
    detections: [
      {
        modality: 'video',
        cls: 'person',
        score: 0.875,
        labels: ['person'],
        box: [10, 20, 110, 220],
      },
      { modality: 'video', cls: 'animal', score: 0.5, labels: ['dog', 'cat'], box: [1, 2, 3, 4] },
    ],
  };
  const event: SecurityEvent = {
    id: '0ccaf532-5309-5c58-ba9f-4800605d7069',
    incidentId: '0ccaf532-5309-5c58-ba9f-4800605d7069',
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
      { cls: 'glass_break', modality: 'audio', score: 0.5, atSec: 4.08 },
      { cls: 'person', modality: 'video', score: 0.875, atSec: 2, box: [1, 2, 3, 4] },
    ],
  };
  const status: StreamStatus = {
    streamId: 'cam-1',
    state: 'ended',
    source: 'rtsp://***@cam/1',
    hasAudio: true,
    hasVideo: false,
    decodedSec: 9.5,
    truncated: true,
    reason: 'cut short',
  };
  const commands: StreamCommand[] = [
    { streamId: 'cam-1', action: 'start', source: 'rtsp://cam/1', live: true },
    { streamId: 'cam-1', action: 'start', source: '/clips/a.mp4' },
    {
      streamId: 'cam-2',
      action: 'start',
      source: 'rtsp://cam/2',
      live: true,
      fps: 2.5,
      labels: { camera: 'Lobby', site: 'HQ' },
      rulesProfile: 'indoor',
      models: ['yolox-nano'],
      requestId: 'req-7f3a',
    },
    { streamId: 'cam-1', action: 'stop' },
  ];

  const deadLetter: WebhookDeadLetter = {
    subscriptionId: 'soc',
    url: 'https://hooks.example.com/vigil',
    eventId: event.id,
    attempts: 8,
    reason: 'HTTP 503 on every attempt',
    lastStatus: 503,
    body: new TextEncoder().encode('{"type":"vigil.incident","eventId":"é"}'),
    // past 2^32 ms, so a 32-bit field would not do
    failedAtMs: Date.UTC(2026, 0, 1, 12),
    deliveryId: '3f2d6c1e-8a4b-5c7d-9e0f-1a2b3c4d5e6f',
  };
  const { lastStatus: _none, ...unanswered } = deadLetter;

  function roundTrip<T>(topic: { name: string }, value: T): T {
    const codec = codecFor(topic as never) as unknown as {
      encode(v: T): Uint8Array;
      decode(b: Uint8Array): T;
    };
    return codec.decode(codec.encode(value));
  }

  const cases: [string, { name: string }, unknown][] = [
    ['audio', Topics.audio, chunk],
    ['video', Topics.video, frame],
    ['still frame', Topics.video, { ...frame, pixels: new Uint8Array(0), still: true }],
    ['features', Topics.features, window],
    [
      'features with a YAMNet patch',
      Topics.features,
      { ...window, yamnetPatch: Int8Array.from([-128, -1, 0, 16, 127]) },
    ],
    [
      'features with 16 kHz audio',
      Topics.features,
      { ...window, pcm16k: Int16Array.from([-32768, -1, 0, 300, 32767]) },
    ],
    ['detections', Topics.detections, detections],
    ['events', Topics.events, event],
    [
      'site incident',
      Topics.events,
      {
        ...event,
        streamId: 'cam-2',
        site: 'hq',
        zone: 'lobby',
        cameras: ['cam-2', 'cam-1'],
        evidence: event.evidence.map((e, i) => ({ ...e, streamId: i ? 'cam-1' : 'cam-2' })),
      },
    ],
    ['absorbed camera incident', Topics.events, { ...event, site: 'hq', absorbedBy: 'inc-9' }],
    ['status', Topics.streamStatus, status],
    ['minimal status', Topics.streamStatus, { streamId: 's', state: 'started', source: 'x' }],
    ['end markers', Topics.audio, { ...chunk, samples: new Float32Array(0), final: true }],
    ['webhook dead letter', Topics.webhookDeadLetters, deadLetter],
    ['unanswered webhook dead letter', Topics.webhookDeadLetters, unanswered],
    [
      'fusion checkpoint',
      Topics.fusionState,
      {
        streamId: 'cam-1',
        profile: 'default',
        partition: 3,
        offset: 12_345_678_901,
        state: { walkedToSec: null, episodeEnd: [['alarm', 7.5]], pending: [] },
      },
    ],
    [
      'ended stream checkpoint',
      Topics.fusionState,
      { streamId: 'cam-1', profile: 'default', partition: 0, offset: 7, state: null },
    ],
    [
      'edge evidence',
      Topics.edgeEvidence,
      {
        eventId: 'ev-1',
        incidentId: 'inc-1',
        version: 2,
        streamId: 'cam-1',
        artifacts: [
          { name: 'snapshot.jpg', contentType: 'image/jpeg', data: Uint8Array.from([0xff, 0xd8]) },
          { name: 'audio.wav', contentType: 'audio/wav', data: Uint8Array.from([82, 73, 70, 70]) },
        ],
      },
    ],
    ...commands.map((c, i): [string, { name: string }, unknown] => [
      `command ${i}`,
      Topics.streamCommands,
      c,
    ]),
  ];

  it.each(cases)('round-trips %s exactly', (_name, topic, value) => {
    expect(roundTrip(topic, value)).toEqual(value);
  });

  it('carries samples as raw float32 bytes, not as a list of numbers', () => {
    const samples = new Float32Array(32000);
    const bytes = codecFor(Topics.audio).encode({ ...chunk, samples });
    expect(bytes.byteLength).toBeGreaterThanOrEqual(128000);
    expect(bytes.byteLength).toBeLessThan(128100);
  });

  it('rejects garbage and inconsistent payloads with a CodecError', () => {
    const garbage = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]);
    const topics: Topic<unknown>[] = [
      Topics.audio,
      Topics.video,
      Topics.features,
      Topics.detections,
      Topics.events,
      Topics.webhookDeadLetters,
    ];
    for (const topic of topics) {
      expect(() => codecFor(topic).decode(garbage)).toThrow(CodecError);
    }
    const short = codecFor(Topics.video).encode({ ...frame, pixels: Uint8Array.from([1, 2, 3]) });
    expect(() => codecFor(Topics.video).decode(short)).toThrow(/3 pixel bytes for 2x1/);
    const stillWithPixels = codecFor(Topics.video).encode({ ...frame, still: true });
    expect(() => codecFor(Topics.video).decode(stillWithPixels)).toThrow(
      /6 pixel bytes for a still 2x1/,
    );
    const empty = codecFor(Topics.streamCommands).encode({ streamId: '', action: 'stop' });
    expect(() => codecFor(Topics.streamCommands).decode(empty)).toThrow(/stream_id is empty/);
  });

  it('refuses an empty payload on every stream-keyed topic, so every consumer group does', () => {
    const topics: Topic<unknown>[] = [
      Topics.audio,
      Topics.video,
      Topics.features,
      Topics.detections,
      Topics.events,
      Topics.streamStatus,
      Topics.streamCommands,
      Topics.edgeEvidence,
    ];
    for (const topic of topics) {
      expect(() => codecFor(topic).decode(new Uint8Array(0))).toThrow(/stream_id is empty/);
    }
    const silent = codecFor(Topics.audio).encode({ ...chunk, samples: new Float32Array(0) });
    expect(() => codecFor(Topics.audio).decode(silent)).toThrow(/no samples/);
    const end = codecFor(Topics.audio).encode({
      ...chunk,
      samples: new Float32Array(0),
      final: true,
    });
    expect(codecFor(Topics.audio).decode(end).final).toBe(true);
  });
});
