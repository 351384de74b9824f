import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { FfmpegLocator } from '@app/media';
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

/**
 * An integrator asking `vigil serve` for one site's incidents over gRPC, on real cameras: in
 * site hq's zone lobby, cam-door plays comp01 (glass breaks, a person in view) and cam-hall the
 * same recording's pictures without its sound (a person, nothing heard), so the zone rule
 * raises a zone incident naming both beside cam-door's own intrusion; cam-yard, alone
 * in site depot, plays the smoke alarm. ListEvents and a Subscribe opened before the cameras
 * start, both filtered by site (the history's SQL and the live matcher), must give the same
 * incidents: the site's own and its cameras', nothing of the other site.
 */
jest.setTimeout(300_000);

interface EventRecord {
  event: {
    id: string;
    streamId: string;
    rule: string;
    state: string;
    site: string;
    zone: string;
    cameras: string[];
    absorbedBy: string;
  };
}

const VIEWER = 'viewer-token-for-the-sites-test';
const OPERATOR = 'operator-token-for-the-sites-test';

describe('site and zone filters over gRPC', () => {
  let dir: string;
  let server: RunningServer;
  let api: ApiClients;
  const viewer = () => bearer(VIEWER);
  const subscribe = (request: object) =>
    (api.events.Subscribe as (r: object, m: unknown) => ClientReadableStream<EventRecord>)(
      request,
      viewer(),
    );
  const list = async (filter: object) =>
    (
      await unary<{ events: EventRecord[] }>(
        api.events,
        'ListEvents',
        { filter, pageSize: 500, oldestFirst: true },
        viewer(),
      )
    ).events;

  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-sites-api-')));
    // The hall camera sees the same person and hears nothing: only the door hears the glass.
    execFileSync(new FfmpegLocator().locate(), [
      ...[
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        fixture('clips/comp01_person_glassbreak.mp4'),
      ],
      ...['-an', '-c:v', 'copy', join(dir, 'hall.mp4')],
    ]);
    const configFile = join(dir, 'vigil.yaml');
    writeFileSync(
      configFile,
      [
        'grpc: { address: 127.0.0.1:0 }',
        'auth:',
        `  tokens: [{ name: vms, role: operator, token: ${OPERATOR} }, { name: wall, role: viewer, token: ${VIEWER} }]`,
        'streams: { max: 3 }',
        'history: { path: ./data/history.sqlite }',
        'evidence: { dir: ./data/evidence, timeoutMs: 30000 }',
        'sites:',
        '  - id: hq',
        '    zones: [{ id: lobby, streams: [cam-door, cam-hall] }]',
        '  - id: depot',
        '    streams: [cam-yard]',
      ].join('\n'),
    );
    const config = loadServeConfig(configFile, {
      ...process.env,
      VIGIL_MODELS_DIR: modelsDir(),
      VIGIL_HTTP_ADDRESS: 'off',
      VIGIL_MEDIA_ROOTS: `${fixturesDir()}:${dir}`,
    });
    server = await startServer(config, false);
    api = apiClients(server.grpcAddress);
  });

  afterAll(async () => {
    api?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists and streams one site’s incidents alike: the zone incident and its cameras’ own', async () => {
    const live = subscribe({ filter: { sites: ['hq'] } });
    const received: EventRecord[] = [];
    live.on('data', (record: EventRecord) => received.push(record));
    const ended = new Promise<void>((resolve) => live.on('error', () => resolve()));
    const cameras = {
      'cam-door': fixture('clips/comp01_person_glassbreak.mp4'),
      'cam-hall': join(dir, 'hall.mp4'),
      'cam-yard': fixture('clips/comp05_emptyroom_smoke_alarm.mp4'),
    };
    for (const [streamId, source] of Object.entries(cameras)) {
      await unary(api.streams, 'StartStream', { source, streamId }, bearer(OPERATOR));
    }
    // Every incident is closed once the clips are done: the door's, the zone's (under the
    // hall, its first camera) and the yard's.
    let all: EventRecord[] = [];
    for (let i = 0; i < 1200; i++) {
      all = await list({});
      const closed = new Set(
        all.filter((e) => e.event.state === 'INCIDENT_STATE_CLOSED').map((e) => e.event.streamId),
      );
      if (Object.keys(cameras).every((id) => closed.has(id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const hq = await list({ sites: ['hq'] });
    expect(hq.map((e) => e.event.id)).toEqual(
      all.filter((e) => e.event.site === 'hq').map((e) => e.event.id),
    );
    const zone = hq.filter((e) => e.event.cameras.length > 0);
    expect(zone[0]?.event).toMatchObject({
      rule: 'zone_intrusion',
      zone: 'lobby',
    });
    // Earliest first: the person the hall saw from the start, then the door's glass.
    expect(zone[0]!.event.cameras).toEqual(['cam-hall', 'cam-door']);
    // cam-door's own intrusion (a finding of its own beside the zone's) is the site's too.
    const own = hq.filter((e) => e.event.cameras.length === 0);
    expect(own.map((e) => [e.event.streamId, e.event.rule])).toContainEqual([
      'cam-door',
      'intrusion',
    ]);
    expect(own.every((e) => e.event.streamId === 'cam-door')).toBe(true);

    // The live subscriber, filtered in memory, got the same versions in the same order.
    for (let i = 0; i < 200 && received.length < hq.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    live.cancel();
    await ended;
    expect(received.map((e) => e.event.id)).toEqual(hq.map((e) => e.event.id));

    const depot = await list({ sites: ['depot'] });
    expect(depot.length).toBeGreaterThan(0);
    expect(depot.every((e) => e.event.streamId === 'cam-yard' && e.event.site === 'depot')).toBe(
      true,
    );
    // A zone: its zone rule's incident and its cameras' own (they carry their zone too).
    expect(own.every((e) => e.event.zone === 'lobby')).toBe(true);
    expect((await list({ zones: ['lobby'] })).map((e) => e.event.id)).toEqual(
      hq.filter((e) => e.event.zone === 'lobby').map((e) => e.event.id),
    );
    expect((await list({ zones: ['lobby'] })).length).toBe(zone.length + own.length);
    expect(await list({ sites: ['depot'], zones: ['lobby'] })).toEqual([]);
    expect((await list({ sites: ['hq', 'depot'] })).length).toBe(hq.length + depot.length);
    // A resumed subscription applies the filter to what it catches up on.
    // (cam-yard's incident has an opening and a closing version: one at least is after the oldest.)
    const missed = depot.filter((e) => e.event.id !== all[0]!.event.id);
    const resumed = await collect(
      subscribe({ filter: { sites: ['depot'] }, afterEventId: all[0]!.event.id }),
      (items) => items.length >= missed.length,
    );
    expect(resumed.map((e) => e.event.id)).toEqual(missed.map((e) => e.event.id));
  });

  it('refuses a bad site or zone with INVALID_ARGUMENT naming the field', async () => {
    expect(
      await statusOf(unary(api.events, 'ListEvents', { filter: { sites: ['hq', ''] } }, viewer())),
    ).toEqual({ code: status.INVALID_ARGUMENT, details: 'filter.sites[1]: must not be empty' });
    const zone = await statusOf(collect(subscribe({ filter: { zones: ['lobby/east'] } })));
    expect(zone).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'filter.zones[0]: must be 1-64 characters of A-Z a-z 0-9 . _ -',
    });
  });
});
