import { Writable } from 'node:stream';
import { createLogger } from './logger.factory';
import { withLogContext } from './log.context';
import { PinoNestLogger } from './nest.logger';

/** Collects what pino writes: one JSON line per call. */
function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return {
    stream,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

function logger(level: 'error' | 'warn' | 'log' | 'debug' = 'debug') {
  const out = sink();
  const pino = createLogger({
    app: 'vigil-test',
    level,
    fd: 1,
    base: { instanceId: 'replica-1' },
    destination: out.stream,
  });
  return { out, pino, nest: new PinoNestLogger(pino) };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level, time, app, instance and message', () => {
    const { out, pino } = logger();
    pino.info('hello');
    const [record] = out.records();
    expect(record).toEqual({
      level: 'info',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      app: 'vigil-test',
      pid: process.pid,
      instanceId: 'replica-1',
      msg: 'hello',
    });
  });

  it('adds the stream, correlation and incident ids of the work it is logged in', async () => {
    const { out, pino } = logger();
    await withLogContext({ streamId: 'lobby', correlationId: 'c-1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await withLogContext({ incidentId: 'i-9' }, async () => pino.warn('late evidence'));
    });
    pino.warn('outside');
    const [inside, outside] = out.records();
    expect(inside).toMatchObject({
      streamId: 'lobby',
      correlationId: 'c-1',
      incidentId: 'i-9',
      msg: 'late evidence',
    });
    expect(outside).not.toHaveProperty('streamId');
    expect(outside).not.toHaveProperty('correlationId');
  });

  it('never writes URL credentials, tokens or secrets, in the message or in fields', () => {
    const { out, pino } = logger();
    pino.warn(
      'cannot open rtsp://admin:hunter2@10.0.0.12:554/stream1?token=abc123: refused; header Bearer s3cr3t-t0ken',
    );
    pino.info(
      {
        source: 'rtsp://cam:pa55word@camera/live',
        sasl: { username: 'vigil', password: 'kafka-pass' },
        headers: { authorization: 'Bearer grpc-token' },
        token: 'plain-token',
        webhook: { secret: 'hmac-secret', url: 'https://x.example/hook?sig=signed-part' },
      },
      'configured',
    );
    pino.error(new Error('fetch rtsp://u:err-pass@host/x failed'));
    const text = out
      .records()
      .map((r) => JSON.stringify(r))
      .join('\n');
    for (const secret of [
      'hunter2',
      'abc123',
      's3cr3t-t0ken',
      'pa55word',
      'kafka-pass',
      'grpc-token',
      'plain-token',
      'hmac-secret',
      'signed-part',
      'err-pass',
    ]) {
      expect(text).not.toContain(secret);
    }
    const [message, fields, error] = out.records();
    expect(message.msg).toBe(
      'cannot open rtsp://***@10.0.0.12:554/stream1?***: refused; header Bearer ***',
    );
    expect(fields).toMatchObject({
      source: 'rtsp://***@camera/live',
      sasl: { username: 'vigil', password: '***' },
      token: '***',
    });
    expect(error.err).toMatchObject({ type: 'Error', message: 'fetch rtsp://***@host/x failed' });
  });

  it('drops what is below VIGIL_LOG_LEVEL (log is info; debug lets verbose through)', () => {
    const warn = logger('warn');
    warn.nest.log('not shown');
    warn.nest.warn('shown');
    expect(warn.out.records().map((r) => r.msg)).toEqual(['shown']);
    const debug = logger('debug');
    debug.nest.verbose('detail');
    expect(debug.out.records()).toEqual([
      expect.objectContaining({ level: 'trace', msg: 'detail' }),
    ]);
  });
});

describe('PinoNestLogger', () => {
  it('reads Nest context and stack arguments as ConsoleLogger does', () => {
    const { out, nest } = logger();
    nest.log('listening', 'HealthServer');
    nest.error('cannot start', 'Error: boom\n    at main (x.ts:1:1)', 'vigil-ingest');
    nest.error('failed', 'Error: bare\n    at y (y.ts:2:2)');
    nest.warn(new Error('broker rtsp://a:leak@h/x gone'), 'kafka');
    nest.debug({ batch: 4 }, 'inference');
    const [log, withStack, bareStack, error, object] = out.records();
    expect(log).toMatchObject({ level: 'info', context: 'HealthServer', msg: 'listening' });
    expect(withStack).toMatchObject({
      level: 'error',
      context: 'vigil-ingest',
      msg: 'cannot start',
      err: { stack: expect.stringContaining('at main') },
    });
    expect(bareStack).not.toHaveProperty('context');
    expect(bareStack).toMatchObject({ err: { stack: expect.stringContaining('at y') } });
    expect(error).toMatchObject({
      level: 'warn',
      context: 'kafka',
      msg: 'broker rtsp://***@h/x gone',
    });
    expect(object).toMatchObject({ level: 'debug', context: 'inference', batch: 4 });
  });
});
