import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ClientReadableStream, type ClientDuplexStream } from '@grpc/grpc-js';
import { loadServeConfig } from '@app/service';
import { type RunningServer, startServer } from '../apps/vigil/src/serve/serve.command';
import {
  type ApiClients,
  apiClients,
  bearer,
  collect,
  fixture,
  fixturesDir,
  modelsDir,
  statusOf,
  unary,
} from '@app/testing';

// Real models and ffmpeg on a 2-core machine that runs other suites at the same time.
jest.setTimeout(120_000);
const OPERATOR = 'operator-token-for-the-e2e-test';
const VIEWER = 'viewer-token-for-the-e2e-test';
const MAX_MESSAGE = 2 * 1024 * 1024;

interface EventRecord {
  event: {
    id: string;
    incidentId: string;
    version: number;
    state: string;
    streamId: string;
    rule: string;
    severity: string;
    trigger: string;
  };
  streamLabels: Record<string, string>;
  evidence: { name: string; contentType: string; bytes: number; sha256: string }[];
  occurredAtMs: number;
}

/**
 * `vigil serve` in this process with real models, ffmpeg, SQLite and a real gRPC port, called
 * by real @grpc/grpc-js clients.
 */
describe('vigil serve gRPC API', () => {
  let dir: string;
  let server: RunningServer;
  let api: ApiClients;
  const operator = () => bearer(OPERATOR);
  const viewer = () => bearer(VIEWER);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
    const configFile = join(dir, 'vigil.yaml');
    writeFileSync(
      configFile,
      [
        'grpc:',
        '  address: 127.0.0.1:0',
        `  maxMessageBytes: ${MAX_MESSAGE}`,
        'auth:',
        '  tokens:',
        '    - { name: vms, role: operator, tokenEnv: E2E_OPERATOR_TOKEN }',
        `    - { name: wall, role: viewer, token: ${VIEWER} }`,
        'streams:',
        '  max: 2',
        'history:',
        '  path: ./data/history.sqlite',
        'evidence:',
        '  dir: ./data/evidence',
        // Evidence waits for inference; other suites share these 2 cores. The bounded wait
        // itself is unit-tested; here every incident must carry its files.
        '  timeoutMs: 30000',
      ].join('\n'),
    );
    const config = loadServeConfig(configFile, {
      ...process.env,
      VIGIL_MODELS_DIR: modelsDir(),
      VIGIL_MEDIA_ROOTS: fixturesDir(),
      E2E_OPERATOR_TOKEN: OPERATOR,
    });
    server = await startServer(config, false);
    api = apiClients(server.grpcAddress);
  });

  afterAll(async () => {
    api?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const subscribe = (request: object) =>
    (api.events.Subscribe as (r: object, m: unknown) => ClientReadableStream<EventRecord>)(
      request,
      viewer(),
    );

  it('answers the standard health check and lists its services through reflection', async () => {
    const health = await unary<{ status: string }>(api.health, 'Check', { service: '' });
    expect(health.status).toBe('SERVING');
    const events = await unary<{ status: string }>(api.health, 'Check', {
      service: 'vigil.v1.EventService',
    });
    expect(events.status).toBe('SERVING');

    const call = (
      api.reflection.ServerReflectionInfo as () => ClientDuplexStream<
        object,
        {
          listServicesResponse?: { service: { name: string }[] };
        }
      >
    )();
    call.write({ listServices: '' });
    call.end();
    const [answer] = await collect(call);
    expect(answer!.listServicesResponse!.service.map((s) => s.name).sort()).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'vigil.v1.AnalysisService',
      'vigil.v1.EventService',
      'vigil.v1.InferenceService',
      'vigil.v1.StreamService',
      'vigil.v1.WebhookService',
    ]);
  });

  describe('streams and incidents', () => {
    let intrusion: EventRecord;

    it('starts a stream on comp01 and delivers its intrusion incident, with evidence, to a subscriber', async () => {
      const live = subscribe({ filter: { minSeverity: 'SEVERITY_MEDIUM' } });
      const received = collect(live, (items) => items.length >= 1);
      const stream = await unary<{
        streamId: string;
        state: string;
        labels: Record<string, string>;
      }>(
        api.streams,
        'StartStream',
        {
          source: fixture('clips/comp01_person_glassbreak.mp4'),
          labels: { site: 'HQ', camera: 'Lobby' },
        },
        operator(),
      );
      expect(stream).toMatchObject({
        streamId: 'comp01_person_glassbreak',
        state: 'STREAM_STATE_STARTING',
        labels: { camera: 'Lobby', site: 'HQ' },
      });
      const [record] = await received;
      intrusion = record!;
      expect(intrusion.event).toMatchObject({
        streamId: 'comp01_person_glassbreak',
        rule: 'intrusion',
        severity: 'SEVERITY_HIGH',
      });
      expect(intrusion.streamLabels).toEqual({ camera: 'Lobby', site: 'HQ' });
      // Evidence before alert: the incident reaches subscribers with its files already stored.
      expect(intrusion.evidence.map((e) => e.name).sort()).toEqual([
        'audio.wav',
        'snapshot.jpg',
        'spectrogram.png',
      ]);
    });

    it('reports the stream as ended once the file is done', async () => {
      let state = '';
      for (let i = 0; i < 200 && state !== 'STREAM_STATE_ENDED'; i++) {
        const got = await unary<{ state: string }>(
          api.streams,
          'GetStream',
          { streamId: 'comp01_person_glassbreak' },
          operator(),
        );
        state = got.state;
        if (state !== 'STREAM_STATE_ENDED') await new Promise((r) => setTimeout(r, 50));
      }
      expect(state).toBe('STREAM_STATE_ENDED');
      const list = await unary<{
        streams: {
          streamId: string;
          hasVideo: boolean;
          decodedSec: number;
          framesDropped: number;
        }[];
      }>(api.streams, 'ListStreams', { states: ['STREAM_STATE_ENDED'] }, operator());
      // A file keeps every frame: only live streams drop frames the detector is behind on.
      expect(list.streams).toEqual([
        expect.objectContaining({
          streamId: 'comp01_person_glassbreak',
          hasVideo: true,
          framesDropped: 0,
        }),
      ]);
      expect(list.streams[0]!.decodedSec).toBeGreaterThan(9.5);
    });

    it('serves the event, its evidence bytes and the history', async () => {
      const got = await unary<EventRecord>(
        api.events,
        'GetEvent',
        { eventId: intrusion.event.id },
        viewer(),
      );
      expect(got).toEqual(intrusion);
      const snapshot = intrusion.evidence.find((e) => e.name === 'snapshot.jpg')!;
      const chunks = await collect(
        (
          api.events.GetEvidence as (
            r: object,
            m: unknown,
          ) => ClientReadableStream<{
            contentType: string;
            totalBytes: number;
            sha256: string;
            data: Buffer;
          }>
        )({ eventId: intrusion.event.id, name: 'snapshot.jpg' }, viewer()),
      );
      const bytes = Buffer.concat(chunks.map((c) => c.data));
      expect(chunks[0]).toMatchObject({ contentType: 'image/jpeg', totalBytes: snapshot.bytes });
      expect(bytes.length).toBe(snapshot.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(snapshot.sha256);
      expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));

      // The history keeps every version: the intrusion closes when the clip ends.
      let page: { events: EventRecord[]; nextPageToken: string } = {
        events: [],
        nextPageToken: '',
      };
      for (let i = 0; i < 400 && page.events.length < 2; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        page = await unary(
          api.events,
          'ListEvents',
          { filter: { classes: ['glass_break'] } },
          viewer(),
        );
      }
      expect(page.events.map((e) => [e.event.incidentId, e.event.version, e.event.state])).toEqual([
        [intrusion.event.incidentId, 2, 'INCIDENT_STATE_CLOSED'],
        [intrusion.event.incidentId, 1, 'INCIDENT_STATE_OPENED'],
      ]);
      expect(page.events[1]!.event.id).toBe(intrusion.event.id);
      expect(page.nextPageToken).toBe('');
    });

    it('resumes a subscription after the last seen id with exactly what was missed', async () => {
      const [lastSeen] = (
        await unary<{ events: EventRecord[] }>(api.events, 'ListEvents', { pageSize: 1 }, viewer())
      ).events;
      // Nobody listens while comp05 runs.
      await unary(
        api.streams,
        'StartStream',
        { source: fixture('clips/comp05_emptyroom_smoke_alarm.mp4') },
        operator(),
      );
      let missed: EventRecord[] = [];
      for (let i = 0; i < 400 && missed.length < 2; i++) {
        missed = (
          await unary<{ events: EventRecord[] }>(
            api.events,
            'ListEvents',
            { filter: { streamIds: ['comp05_emptyroom_smoke_alarm'] } },
            viewer(),
          )
        ).events;
        if (missed.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      expect(missed.map((e) => [e.event.rule, e.event.state])).toEqual([
        ['unattended_alarm', 'INCIDENT_STATE_CLOSED'],
        ['unattended_alarm', 'INCIDENT_STATE_OPENED'],
      ]);

      const resumed = await collect(
        subscribe({ afterEventId: lastSeen!.event.id }),
        (items) => items.length >= 2,
      );
      expect(resumed.map((r) => r.event.id)).toEqual(missed.map((e) => e.event.id).reverse());
      // Resuming from the newest id delivers nothing old: the first item would be a new incident.
      const fromNewest = subscribe({ afterEventId: missed[0]!.event.id });
      const nothing = await Promise.race([
        collect(fromNewest, () => true),
        new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), 300)),
      ]);
      fromNewest.cancel();
      expect(nothing).toBe('quiet');
    });

    it('two live streams at once (the most this server takes), paced like cameras: every incident version but closing carries its evidence', async () => {
      const clips = {
        'ev-glass': 'clips/comp01_person_glassbreak.mp4',
        'ev-alarm': 'clips/comp05_emptyroom_smoke_alarm.mp4',
      };
      for (const [streamId, clip] of Object.entries(clips)) {
        const request = { source: fixture(clip), streamId, live: true, requestId: `${streamId}-1` };
        await unary(api.streams, 'StartStream', request, operator());
        // A retry with the same idempotency key gets the stream it started, not an error…
        const again = await unary<{ streamId: string }>(
          api.streams,
          'StartStream',
          request,
          operator(),
        );
        expect(again.streamId).toBe(streamId);
        // …while a different start of a running stream is refused.
        await expect(
          unary(api.streams, 'StartStream', { ...request, requestId: 'other' }, operator()),
        ).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
      }
      const versions = async () =>
        (
          await unary<{ events: EventRecord[] }>(
            api.events,
            'ListEvents',
            { filter: { streamIds: Object.keys(clips) }, pageSize: 500 },
            viewer(),
          )
        ).events;
      // Each stream's incident is closed once its clip has played (about 10 s of real time).
      let stored: EventRecord[] = [];
      for (let i = 0; i < 600; i++) {
        stored = await versions();
        const closed = new Set(
          stored
            .filter((e) => e.event.state === 'INCIDENT_STATE_CLOSED')
            .map((e) => e.event.streamId),
        );
        if (closed.size === 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(new Set(stored.map((e) => e.event.streamId))).toEqual(new Set(Object.keys(clips)));
      const told = stored.filter((e) => e.event.state !== 'INCIDENT_STATE_CLOSED');
      expect(told.length).toBeGreaterThanOrEqual(2);
      for (const record of told) {
        expect({ id: record.event.id, files: record.evidence.map((e) => e.name).sort() }).toEqual({
          id: record.event.id,
          files: ['audio.wav', 'snapshot.jpg', 'spectrogram.png'],
        });
      }
    });

    it('serves Prometheus metrics of what it did: incidents, frames, inference time, bus traffic, latency', async () => {
      const response = await fetch(`http://${server.runtime.metricsAddress}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toMatch(
        /vigil_incident_versions_total\{[^}]*rule="intrusion"[^}]*state="opened"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(/vigil_detector_frames_total\{[^}]*outcome="run"[^}]*\} [1-9]/);
      expect(text).toMatch(
        /vigil_inference_seconds_count\{[^}]*modality="audio"[^}]*model="efficientat-mn04"[^}]*\} [1-9]/,
      );
      // The two live streams above: their alerts, timed from the capture of their triggers.
      expect(text).toMatch(
        /vigil_capture_to_incident_seconds_count\{[^}]*severity="high"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(
        /vigil_bus_messages_total\{[^}]*topic="vigil.detections",direction="handled",group="vigil-fusion"[^}]*\} [1-9]/,
      );
      expect(text).toMatch(/vigil_bus_handle_seconds_count\{[^}]*topic="vigil.features.audio"/);
      expect(text).toMatch(/vigil_consumer_lag_messages\{[^}]*topic="vigil.media.video"/);
      expect(text).toContain('process_cpu_seconds_total');
      expect((await fetch(`http://${server.runtime.metricsAddress}/other`)).status).toBe(404);
      // The console's port serves the same scrape, without a session (curl :8080/metrics).
      const viaConsole = await fetch(`http://${server.consoleAddress}/metrics`);
      expect(viaConsole.status).toBe(200);
      expect(await viaConsole.text()).toMatch(
        /vigil_incident_versions_total\{[^}]*rule="intrusion"/,
      );
      // Every query of the Grafana dashboard in k8s/ names a metric family this scrape declares.
      const dashboard = readFileSync(
        join(__dirname, '..', 'k8s', 'components', 'monitoring', 'vigil-dashboard.json'),
        'utf8',
      );
      const exprs = (JSON.parse(dashboard) as { panels: { targets: { expr: string }[] }[] }).panels
        .flatMap((p) => p.targets)
        .map((t) => t.expr);
      const named = new Set(
        exprs.flatMap((e) =>
          [...e.matchAll(/\b(?:vigil|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]),
        ),
      );
      const declared = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!));
      const family = (name: string) =>
        declared.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      const unknown = [...named].filter((name) => !declared.has(family(name)));
      expect(named.size).toBeGreaterThan(10);
      expect(unknown).toEqual([]);
    });

    it('answers STARTING at once, then says FAILED with the reason when the source never answers', async () => {
      const started = await unary<{ state: string }>(
        api.streams,
        'StartStream',
        { source: 'http://127.0.0.1:1/clip.mp4', streamId: 'nobody-home', live: false },
        operator(),
      );
      expect(started.state).toBe('STREAM_STATE_STARTING');
      let got = { state: '', reason: '' };
      for (let i = 0; i < 300 && got.state !== 'STREAM_STATE_FAILED'; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        got = await unary(api.streams, 'GetStream', { streamId: 'nobody-home' }, operator());
      }
      expect(got.state).toBe('STREAM_STATE_FAILED');
      expect(got.reason).toMatch(/127\.0\.0\.1:1|refused|unreachable/i);
    });

    it('runs only the models a stream asks for: audio alone hears a plain glass break', async () => {
      const streamId = 'comp01-audio-only';
      const live = subscribe({ filter: { streamIds: [streamId] } });
      const received = collect(live, (items) => items.length >= 1);
      const started = await unary<{ models: string[] }>(
        api.streams,
        'StartStream',
        {
          source: fixture('clips/comp01_person_glassbreak.mp4'),
          streamId,
          models: ['efficientat-mn04'],
        },
        operator(),
      );
      expect(started.models).toEqual(['efficientat-mn04']);
      const [record] = await received;
      // No frames were decoded, so nobody can be seen: not an intrusion.
      expect(record!.event).toMatchObject({ streamId, rule: 'glass_break' });
      expect(record!.evidence.map((e) => e.name).sort()).toEqual(['audio.wav', 'spectrogram.png']);
    });
  });

  it('analyses an uploaded clip and streams back the alarm incident without recording it', async () => {
    const before = await unary<{ events: EventRecord[] }>(
      api.events,
      'ListEvents',
      { pageSize: 500 },
      viewer(),
    );
    const call = (
      api.analysis.AnalyzeClip as (m: unknown) => ClientDuplexStream<
        object,
        {
          item: string;
          incident?: { rule: string; trigger: string; streamId: string; state: string };
          detections?: { modality: string; detections: { cls: string }[] };
          summary?: {
            incidents: number;
            hasAudio: boolean;
            hasVideo: boolean;
            bytesReceived: number;
            decodedSec: number;
          };
        }
      >
    )(operator());
    const replies = collect(call);
    const clip = readFileSync(fixture('clips/comp05_emptyroom_smoke_alarm.mp4'));
    call.write({ header: { name: 'comp05_emptyroom_smoke_alarm.mp4' } });
    for (let offset = 0; offset < clip.length; offset += 256 * 1024) {
      call.write({ data: clip.subarray(offset, offset + 256 * 1024) });
    }
    call.end();
    const items = await replies;
    const incidents = items.filter((i) => i.item === 'incident').map((i) => i.incident!);
    expect(incidents.map((i) => [i.rule, i.state])).toEqual([
      ['unattended_alarm', 'INCIDENT_STATE_OPENED'],
      ['unattended_alarm', 'INCIDENT_STATE_CLOSED'],
    ]);
    expect(incidents[0]!.streamId).toBe('comp05_emptyroom_smoke_alarm');
    expect(
      items.some(
        (i) => i.item === 'detections' && i.detections!.detections.some((d) => d.cls === 'alarm'),
      ),
    ).toBe(true);
    const summary = items.at(-1)!;
    expect(summary.item).toBe('summary');
    expect(summary.summary).toMatchObject({
      incidents: 1,
      hasAudio: true,
      hasVideo: true,
      bytesReceived: clip.length,
    });
    const after = await unary<{ events: EventRecord[] }>(
      api.events,
      'ListEvents',
      { pageSize: 500 },
      viewer(),
    );
    // Nothing of the analysed clip's stream was recorded. Counted for that stream alone: the
    // audio-only stream of the test before may still be finishing, its closing version landing
    // in the history meanwhile.
    const ofClip = (page: { events: EventRecord[] }) =>
      page.events.filter((e) => e.event.streamId === incidents[0]!.streamId).length;
    expect(ofClip(after)).toBe(ofClip(before));
  });

  describe('InferenceService on the reference fixtures', () => {
    it('ClassifyAudio hears the metro station as the reference does', async () => {
      // 10 s of float32 PCM: 1.28 MB, under this server's 2 MiB message limit.
      const pcm = readFileSync(fixture('reference/metro_32k_mono.f32le'));
      const full = await unary<{
        model: string;
        labels: { label: string; score: number }[];
        detections: unknown[];
        durationSec: number;
      }>(
        api.inference,
        'ClassifyAudio',
        { pcm, sampleRate: 32000, format: 'SAMPLE_FORMAT_F32LE', topK: 5 },
        operator(),
      );
      expect(full.model).toBe('efficientat-mn04');
      expect(full.durationSec).toBeCloseTo(10, 3);
      const expected: [string, number][] = [
        ['Train', 0.726],
        ['Rail transport', 0.577],
        ['Railroad car, train wagon', 0.559],
        ['Subway, metro, underground', 0.493],
        ['Vehicle', 0.24],
      ];
      expect(full.labels.map((l) => l.label)).toEqual(expected.map(([label]) => label));
      full.labels.forEach((l, i) =>
        expect(Math.abs(l.score - expected[i]![1])).toBeLessThanOrEqual(0.002),
      );
      expect(full.detections).toEqual([]);
    });

    it('DetectObjects finds the dog, the car and the bicycle of dog.jpg', async () => {
      const answer = await unary<{
        width: number;
        height: number;
        objects: { label: string; score: number; box: number[] }[];
        detections: { cls: string }[];
      }>(
        api.inference,
        'DetectObjects',
        { image: readFileSync(fixture('reference/dog.jpg')) },
        operator(),
      );
      expect([answer.width, answer.height]).toEqual([768, 576]);
      const best = (label: string) =>
        answer.objects.filter((o) => o.label === label).sort((a, b) => b.score - a.score)[0]!;
      const expected: [string, number, number[]][] = [
        ['dog', 0.83, [133, 207, 325, 542]],
        ['car', 0.81, [466, 78, 692, 172]],
        ['bicycle', 0.8, [45, 132, 572, 430]],
      ];
      for (const [label, score, box] of expected) {
        const found = best(label);
        expect(Math.abs(found.score - score)).toBeLessThanOrEqual(0.02);
        found.box.forEach((v, i) => expect(Math.abs(v - box[i]!)).toBeLessThanOrEqual(4));
      }
      expect(new Set(answer.detections.map((d) => d.cls))).toEqual(new Set(['animal', 'vehicle']));
    });
  });

  describe('errors', () => {
    it('names the bad field with INVALID_ARGUMENT', async () => {
      expect(await statusOf(unary(api.streams, 'StartStream', { source: '' }, operator()))).toEqual(
        {
          code: status.INVALID_ARGUMENT,
          details: 'source: is required',
        },
      );
      const fps = await statusOf(
        unary(api.streams, 'StartStream', { source: 'x.mp4', fps: 500 }, operator()),
      );
      expect(fps).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'fps: must be between 0.1 and 60',
      });
      const cls = await statusOf(
        unary(api.events, 'ListEvents', { filter: { classes: ['ufo'] } }, viewer()),
      );
      expect(cls.code).toBe(status.INVALID_ARGUMENT);
      expect(cls.details).toMatch(/^filter\.classes\[0\]: unknown class "ufo"/);
      const range = await statusOf(
        unary(api.events, 'ListEvents', { fromMs: 2000, toMs: 1000 }, viewer()),
      );
      expect(range).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'from_ms: must not be after to_ms',
      });
      const pcm = await statusOf(
        unary(
          api.inference,
          'ClassifyAudio',
          { pcm: Buffer.alloc(6), sampleRate: 32000, format: 'SAMPLE_FORMAT_F32LE' },
          operator(),
        ),
      );
      expect(pcm).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'pcm: length is not a whole number of f32le samples',
      });
      const image = await statusOf(
        unary(api.inference, 'DetectObjects', { image: Buffer.from('not a picture') }, operator()),
      );
      expect(image).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'image: is not a picture ffmpeg can decode',
      });
    });

    it('refuses a file outside the media roots with PERMISSION_DENIED naming the rule', async () => {
      const denied = await statusOf(
        unary(api.streams, 'StartStream', { source: '/etc/passwd' }, operator()),
      );
      expect(denied.code).toBe(status.PERMISSION_DENIED);
      expect(denied.details).toBe(
        `source: /etc/passwd is outside the media roots (${realpathSync(fixturesDir())})`,
      );
    });

    it('refuses at the call a file that does not exist and a protocol off the whitelist', async () => {
      const missing = await statusOf(
        unary(api.streams, 'StartStream', { source: join(fixturesDir(), 'nope.mp4') }, operator()),
      );
      expect(missing.code).toBe(status.NOT_FOUND);
      expect(missing.details).toMatch(/^source: Source not found: .*nope\.mp4 \(no such file\)$/);
      const srt = await statusOf(
        unary(api.streams, 'StartStream', { source: 'srt://127.0.0.1:9000' }, operator()),
      );
      expect(srt.code).toBe(status.INVALID_ARGUMENT);
    });

    it('answers NOT_FOUND for unknown events, evidence, streams and resume points', async () => {
      expect(
        (await statusOf(unary(api.events, 'GetEvent', { eventId: 'nope' }, viewer()))).code,
      ).toBe(status.NOT_FOUND);
      expect(
        (await statusOf(unary(api.streams, 'GetStream', { streamId: 'nope' }, operator()))).code,
      ).toBe(status.NOT_FOUND);
      const resume = await statusOf(collect(subscribe({ afterEventId: 'nope' })));
      expect(resume.code).toBe(status.NOT_FOUND);
      expect(resume.details).toMatch(/^after_event_id: /);
    });

    it("answers every call with its correlation id: the client's own, else a fresh one", async () => {
      const headersOf = (metadata: ReturnType<typeof operator>) =>
        new Promise<string | undefined>((resolve, reject) => {
          type Metadata = ReturnType<typeof operator>;
          type ListStreams = (
            request: object,
            metadata: Metadata,
            done: (error: Error | null) => void,
          ) => { on(event: 'metadata', fn: (m: Metadata) => void): void };
          const listStreams = (api.streams as unknown as { ListStreams: ListStreams }).ListStreams;
          const call = listStreams.call(
            api.streams,
            {},
            metadata,
            (error) => error && reject(error),
          );
          call.on('metadata', (m) => resolve(m.get('x-correlation-id')[0] as string | undefined));
        });
      const traced = operator();
      traced.set('x-correlation-id', 'console-7f3a:42');
      expect(await headersOf(traced)).toBe('console-7f3a:42');
      expect(await headersOf(operator())).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('refuses missing and unknown tokens, and viewers starting streams', async () => {
      const none = await statusOf(unary(api.events, 'ListEvents', {}, bearer(undefined)));
      expect(none).toEqual({ code: status.UNAUTHENTICATED, details: 'missing bearer token' });
      const wrong = await statusOf(
        unary(api.events, 'ListEvents', {}, bearer('not-a-token-we-know-at-all')),
      );
      expect(wrong).toEqual({ code: status.UNAUTHENTICATED, details: 'unknown bearer token' });
      const viewerStart = await statusOf(
        unary(
          api.streams,
          'StartStream',
          { source: fixture('clips/comp04_empty_night_ambience.mp4') },
          viewer(),
        ),
      );
      expect(viewerStart.code).toBe(status.PERMISSION_DENIED);
      const viewerInference = await statusOf(
        unary(api.inference, 'DetectObjects', { image: Buffer.from('x') }, viewer()),
      );
      expect(viewerInference.code).toBe(status.PERMISSION_DENIED);
      const subscribeAnonymous = await statusOf(
        collect(
          (api.events.Subscribe as (r: object, m: unknown) => ClientReadableStream<unknown>)(
            {},
            bearer(undefined),
          ),
        ),
      );
      expect(subscribeAnonymous.code).toBe(status.UNAUTHENTICATED);
    });

    it('refuses an oversized message with RESOURCE_EXHAUSTED', async () => {
      const result = await statusOf(
        unary(api.inference, 'DetectObjects', { image: Buffer.alloc(MAX_MESSAGE + 1) }, operator()),
      );
      expect(result.code).toBe(status.RESOURCE_EXHAUSTED);
    });

    it('refuses streams over the configured limit with RESOURCE_EXHAUSTED', async () => {
      // Unreachable live sources keep reconnecting, so they stay running.
      for (const id of ['dead-1', 'dead-2']) {
        await unary(
          api.streams,
          'StartStream',
          { source: 'rtsp://127.0.0.1:9/none', streamId: id },
          operator(),
        );
      }
      try {
        const again = await statusOf(
          unary(
            api.streams,
            'StartStream',
            { source: 'rtsp://127.0.0.1:9/none', streamId: 'dead-1' },
            operator(),
          ),
        );
        expect(again.code).toBe(status.ALREADY_EXISTS);
        const third = await statusOf(
          unary(
            api.streams,
            'StartStream',
            { source: 'rtsp://127.0.0.1:9/none', streamId: 'dead-3' },
            operator(),
          ),
        );
        expect(third.code).toBe(status.RESOURCE_EXHAUSTED);
      } finally {
        for (const id of ['dead-1', 'dead-2']) {
          const stopped = await unary<{ state: string; reason: string }>(
            api.streams,
            'StopStream',
            { streamId: id },
            operator(),
          );
          expect(stopped.state).toBe('STREAM_STATE_ENDED');
        }
      }
    });

    it('honours deadlines: an analysis past its deadline ends with DEADLINE_EXCEEDED and stops', async () => {
      const call = (
        api.analysis.AnalyzeClip as (m: unknown, o: object) => ClientDuplexStream<object, unknown>
      )(operator(), { deadline: Date.now() + 400 });
      const replies = collect(call);
      call.write({ header: { name: 'comp01.mp4' } });
      call.write({
        data: readFileSync(fixture('clips/comp01_person_glassbreak.mp4')).subarray(0, 900_000),
      });
      // Never half-closed: the server is still waiting for the rest when the deadline passes.
      const result = await statusOf(replies);
      expect(result.code).toBe(status.DEADLINE_EXCEEDED);
      // The server let go of the call: a new analysis is accepted (limit 2, and one ran above).
      const second = (
        api.analysis.AnalyzeClip as (m: unknown, o: object) => ClientDuplexStream<object, unknown>
      )(operator(), { deadline: Date.now() + 300 });
      const secondReplies = collect(second);
      second.write({ header: { name: 'x.mp4' } });
      expect((await statusOf(secondReplies)).code).toBe(status.DEADLINE_EXCEEDED);
    });
  });
});
