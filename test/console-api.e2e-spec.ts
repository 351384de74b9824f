import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiTokenRegistry, ConsoleHttpServer, ConsoleService } from '@app/api';
import { parseSites } from '@app/config';
import type { DetectionSet } from '@app/contracts';
import { FolderEvidenceStore } from '@app/evidence';
import {
  EventRepository,
  HistoryDatabase,
  SqliteSqlDatabase,
  IncidentActionRepository,
  StreamSuppressionRepository,
} from '@app/history';
import { EventFeed, SuppressionGate } from '@app/pipeline';
import { makeIncident } from '@app/testing/incident.factory';

/**
 * The console's HTTP API on a real server, history file and evidence folder, without the
 * pipeline: bad input (unknown incident, malformed or oversize body, wrong role, a write
 * without the session's CSRF token) gets a clear 4xx and leaves the audit trail as it was.
 */
const OPERATOR = 'operator-token-for-the-console-test';
const VIEWER = 'viewer-token-for-the-console-test';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

describe('console HTTP API', () => {
  let dir: string;
  let database: SqliteSqlDatabase;
  let events: EventRepository;
  let actions: IncidentActionRepository;
  let feed: EventFeed;
  let gate: SuppressionGate;
  let server: ConsoleHttpServer;
  let base: string;
  // A camera of site hq (config `sites`): its incident carries the site.
  const incident = makeIncident(1, { streamId: 'lobby', site: 'hq' });
  const sites = parseSites([
    { id: 'hq', zones: [{ id: 'ground', streams: ['lobby'] }], streams: ['yard'] },
    { id: 'depot', streams: ['dock'] },
  ]);

  function call(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { method, headers: options.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: Reply['json'] = {};
          try {
            json = JSON.parse(body) as Reply['json'];
          } catch {
            // not JSON (an asset, an empty 204)
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, json });
        });
      });
      req.on('error', reject);
      req.end(options.body);
    });
  }
  const bearer = (token: string, extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${token}`,
    ...extra,
  });
  const jsonBody = (value: unknown) => JSON.stringify(value);
  const act = (token: string, body: unknown, id = incident.incidentId) =>
    call('POST', `/api/incidents/${id}/actions`, {
      headers: bearer(token, { 'content-type': 'application/json' }),
      body: typeof body === 'string' ? body : jsonBody(body),
    });
  const trail = () => actions.forIncident(incident.incidentId);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-console-api-'));
    database = new SqliteSqlDatabase(
      new HistoryDatabase({ path: join(dir, 'history.sqlite') }),
      true,
    );
    events = await EventRepository.open(database);
    actions = await IncidentActionRepository.open(database);
    feed = new EventFeed({ latestSeq: await events.latestSeq() });
    const store = new FolderEvidenceStore({ root: join(dir, 'evidence') });
    const ref = await store.put(
      incident.id,
      'audio.wav',
      Buffer.from('RIFF0123456789'),
      'audio/wav',
    );
    await events.save(incident, { evidenceRefs: [{ ...ref, name: 'audio.wav' }] });
    feed.publish((await events.get(incident.id))!);
    gate = new SuppressionGate();
    const service = new ConsoleService(
      events,
      actions,
      store,
      feed,
      undefined,
      {
        repository: await StreamSuppressionRepository.open(database),
        gate,
      },
      sites,
    );
    server = new ConsoleHttpServer(
      service,
      new ApiTokenRegistry([
        { name: 'desk', role: 'operator', token: OPERATOR },
        { name: 'wall', role: 'viewer', token: VIEWER },
      ]),
    );
    base = `http://${await server.listen('127.0.0.1:0')}`;
  });

  afterAll(async () => {
    await server?.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists and shows an incident to a viewer, with a strict content policy', async () => {
    const list = await call('GET', '/api/incidents?severity=medium&stream=lobby', {
      headers: bearer(VIEWER),
    });
    expect(list.status).toBe(200);
    expect(list.headers['content-security-policy']).toContain("default-src 'self'");
    expect((list.json.incidents as { incidentId: string }[]).map((i) => i.incidentId)).toEqual([
      incident.incidentId,
    ]);
    const detail = await call('GET', `/api/incidents/${incident.incidentId}`, {
      headers: bearer(VIEWER),
    });
    expect(detail.status).toBe(200);
    expect((detail.json.incident as { disposition: string }).disposition).toBe('new');
  });

  it('lists the configured sites, and one site’s incidents', async () => {
    const listed = await call('GET', '/api/sites', { headers: bearer(VIEWER) });
    expect(listed.status).toBe(200);
    expect(listed.json.sites).toEqual([
      { id: 'hq', zones: [{ id: 'ground', streams: ['lobby'] }], streams: ['yard'] },
      { id: 'depot', zones: [], streams: ['dock'] },
    ]);
    const ids = async (query: string) => {
      const reply = await call('GET', `/api/incidents${query}`, { headers: bearer(VIEWER) });
      expect(reply.status).toBe(200);
      return (reply.json.incidents as { incidentId: string }[]).map((i) => i.incidentId);
    };
    expect(await ids('?site=hq')).toEqual([incident.incidentId]);
    expect(await ids('?site=hq&stream=lobby')).toEqual([incident.incidentId]);
    expect(await ids('?site=depot')).toEqual([]);
    const bad = await call('GET', '/api/incidents?site=hq%2Fground', { headers: bearer(VIEWER) });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.message).toMatch(/^site: must be 1-64 characters/);
  });

  it('serves evidence with byte ranges', async () => {
    const path = `/api/incidents/${incident.incidentId}/evidence/audio.wav`;
    const whole = await call('GET', path, { headers: bearer(VIEWER) });
    expect(whole.status).toBe(200);
    expect(whole.body).toBe('RIFF0123456789');
    const part = await call('GET', path, { headers: bearer(VIEWER, { range: 'bytes=4-7' }) });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe('bytes 4-7/14');
    expect(part.body).toBe('0123');
    const none = await call('GET', `/api/incidents/${incident.incidentId}/evidence/nope.jpg`, {
      headers: bearer(VIEWER),
    });
    expect(none.status).toBe(404);
  });

  it.each([
    [
      'an unknown incident',
      () => act(OPERATOR, { action: 'acknowledge' }, 'no-such-incident'),
      404,
      'NOT_FOUND',
    ],
    ['malformed JSON', () => act(OPERATOR, '{"action": "acknowledge"'), 400, 'INVALID_ARGUMENT'],
    [
      'a body that is not an object',
      () => act(OPERATOR, '["acknowledge"]'),
      400,
      'INVALID_ARGUMENT',
    ],
    ['an unknown action', () => act(OPERATOR, { action: 'delete' }), 400, 'INVALID_ARGUMENT'],
    [
      'an unknown field',
      () => act(OPERATOR, { action: 'resolve', by: 'me' }),
      400,
      'INVALID_ARGUMENT',
    ],
    [
      'a note too long',
      () => act(OPERATOR, { action: 'resolve', note: 'x'.repeat(2001) }),
      400,
      'INVALID_ARGUMENT',
    ],
    [
      'an oversize body',
      () => act(OPERATOR, { action: 'resolve', note: 'x'.repeat(20_000) }),
      413,
      'TOO_LARGE',
    ],
    [
      'a body that is not JSON',
      () =>
        call('POST', `/api/incidents/${incident.incidentId}/actions`, {
          headers: bearer(OPERATOR, { 'content-type': 'text/plain' }),
          body: 'action=resolve',
        }),
      400,
      'INVALID_ARGUMENT',
    ],
    ['a viewer', () => act(VIEWER, { action: 'acknowledge' }), 403, 'PERMISSION_DENIED'],
    [
      'a wrong token',
      () => act('not-a-token-we-know-at-all', { action: 'acknowledge' }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'no credentials',
      () =>
        call('POST', `/api/incidents/${incident.incidentId}/actions`, {
          headers: { 'content-type': 'application/json' },
          body: jsonBody({ action: 'acknowledge' }),
        }),
      401,
      'UNAUTHENTICATED',
    ],
  ])('refuses %s with a clear 4xx and changes nothing', async (_what, send, status, code) => {
    const before = await trail();
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(reply.json.error?.code).toBe(code);
    expect(reply.json.error?.message).toEqual(expect.any(String));
    expect(await trail()).toEqual(before);
  });

  it('refuses bad filters naming them', async () => {
    for (const query of ['?severity=loud', '?state=gone', '?from=yesterday', '?colour=red']) {
      const reply = await call('GET', `/api/incidents${query}`, { headers: bearer(VIEWER) });
      expect(reply.status).toBe(400);
      expect(reply.json.error?.message).toMatch(/^(severity|state|from|colour):/);
    }
    const missing = await call('GET', '/api/incidents/no-such-incident', {
      headers: bearer(VIEWER),
    });
    expect(missing.status).toBe(404);
    const route = await call('GET', '/api/nothing-here', { headers: bearer(VIEWER) });
    expect(route.status).toBe(404);
  });

  it('signs in with a token into an HttpOnly, SameSite=Strict cookie; writes need its CSRF token', async () => {
    const wrong = await call('POST', '/api/session', {
      headers: { 'content-type': 'application/json' },
      body: jsonBody({ token: 'wrong-token-wrong-token' }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const signIn = await call('POST', '/api/session', {
      headers: { 'content-type': 'application/json' },
      body: jsonBody({ token: OPERATOR }),
    });
    expect(signIn.status).toBe(200);
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(
      /^vigil_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+/,
    );
    expect(signIn.json).toMatchObject({ name: 'desk', role: 'operator' });
    const session = cookie.split(';')[0]!;
    const csrf = signIn.json.csrf as string;
    const post = (headers: Record<string, string>) =>
      call('POST', `/api/incidents/${incident.incidentId}/actions`, {
        headers: { cookie: session, 'content-type': 'application/json', ...headers },
        body: jsonBody({ action: 'acknowledge', note: 'on it' }),
      });

    const before = await trail();
    expect((await post({})).status).toBe(403);
    expect((await post({ 'x-vigil-csrf': 'guessed' })).status).toBe(403);
    expect((await post({ 'x-vigil-csrf': csrf, origin: 'https://evil.example' })).status).toBe(403);
    expect(await trail()).toEqual(before);

    const ok = await post({ 'x-vigil-csrf': csrf, origin: base });
    expect(ok.status).toBe(201);
    expect((await trail()).map((a) => [a.action, a.actor, a.role, a.note])).toEqual([
      ['acknowledge', 'desk', 'operator', 'on it'],
    ]);

    const out = await call('DELETE', '/api/session', {
      headers: { cookie: session, 'x-vigil-csrf': csrf },
    });
    expect(out.status).toBe(204);
    expect((await call('GET', '/api/session', { headers: { cookie: session } })).status).toBe(401);
  });

  it('keeps the trail one story: no second acknowledge, nothing after resolve', async () => {
    const again = await act(OPERATOR, { action: 'acknowledge' });
    expect(again.status).toBe(412);
    expect(again.json.error?.message).toMatch(/already acknowledged/);
    expect((await act(OPERATOR, { action: 'resolve', note: 'glazier called' })).status).toBe(201);
    const late = await act(OPERATOR, { action: 'false_alarm' });
    expect(late.status).toBe(412);
    expect((await trail()).map((a) => a.action)).toEqual(['acknowledge', 'resolve']);
    const list = await call('GET', '/api/incidents?state=resolved', { headers: bearer(VIEWER) });
    expect((list.json.incidents as unknown[]).length).toBe(1);
    const open = await call('GET', '/api/incidents?state=new', { headers: bearer(VIEWER) });
    expect((open.json.incidents as unknown[]).length).toBe(0);
  });

  it('replays what a live console missed after its last event id, then pushes new ones', async () => {
    const received: string[] = [];
    const controller = new AbortController();
    const response = await fetch(`${base}/api/live`, {
      headers: { authorization: `Bearer ${VIEWER}`, 'last-event-id': '0-0' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    };
    await readUntil(/event: ready/);
    for (const match of text.matchAll(/id: (\S+)\nevent: (\w+)/g))
      received.push(`${match[2]} ${match[1]}`);
    // The stored version, then the two actions, each id the position after it.
    expect(received).toEqual(['incident 1-0', 'action 1-1', 'action 1-2', 'ready 1-2']);

    const second = makeIncident(2, { streamId: 'yard', severity: 'critical', rule: 'gunshot' });
    const saved = await events.save(second);
    feed.publish((await events.get(second.id))!);
    await readUntil(/id: 2-2\nevent: incident\ndata: (.+)\n/);
    const data = JSON.parse(/id: 2-2\nevent: incident\ndata: (.+)\n/.exec(text)![1]!);
    expect(data.incident).toMatchObject({ incidentId: second.incidentId, disposition: 'new' });
    expect(saved.seq).toBe(2);
    controller.abort();
  });

  it('turns a false alarm into a visible, expiring, undoable suppression that fusion reads', async () => {
    const third = makeIncident(3, {
      streamId: 'kennel',
      trigger: 'dog_bark',
      triggers: ['dog_bark'],
    });
    await events.save(third);
    const detections: DetectionSet = {
      streamId: 'kennel',
      modality: 'audio',
      seq: 1,
      startSec: 0,
      endSec: 1,
      atSec: 0.5,
      model: 'm',
      detections: [{ modality: 'audio', cls: 'dog_bark', score: 0.9, labels: [] }],
    };
    const before = await actions.forIncident(third.incidentId);
    for (const [body, status] of [
      [{ action: 'resolve', suppressMinutes: 60 }, 400],
      [{ action: 'false_alarm', suppressMinutes: 0 }, 400],
      [{ action: 'false_alarm', suppressMinutes: 60 * 24 * 8 }, 400],
      [{ action: 'false_alarm', suppressMinutes: '60' }, 400],
    ] as const) {
      expect((await act(OPERATOR, body, third.incidentId)).status).toBe(status);
    }
    expect(await actions.forIncident(third.incidentId)).toEqual(before);
    expect(gate.filter(detections).detections).toHaveLength(1);

    const marked = await act(
      OPERATOR,
      { action: 'false_alarm', note: 'the neighbour’s dog', suppressMinutes: 60 },
      third.incidentId,
    );
    expect(marked.status).toBe(201);
    const [made] = marked.json.suppressions as { id: number; streamId: string; cls: string }[];
    expect(made).toMatchObject({ streamId: 'kennel', cls: 'dog_bark' });
    expect(gate.filter(detections).detections).toHaveLength(0);
    const detail = await call('GET', `/api/incidents/${third.incidentId}`, {
      headers: bearer(VIEWER),
    });
    expect((detail.json.suppressions as unknown[]).length).toBe(1);

    const lift = (token: string, id: string | number) =>
      call('DELETE', `/api/suppressions/${id}`, { headers: bearer(token) });
    expect((await lift(VIEWER, made!.id)).status).toBe(403);
    expect((await lift(OPERATOR, 'abc')).status).toBe(400);
    expect((await lift(OPERATOR, 999)).status).toBe(404);
    expect(gate.filter(detections).detections).toHaveLength(0);
    expect((await lift(OPERATOR, made!.id)).status).toBe(200);
    expect((await lift(OPERATOR, made!.id)).status).toBe(412);
    expect(gate.filter(detections).detections).toHaveLength(1);
    const listed = await call('GET', '/api/suppressions', { headers: bearer(VIEWER) });
    expect(listed.json.suppressions).toEqual([]);
  });
});
