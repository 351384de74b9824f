import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { Metadata } from '@grpc/grpc-js';
import { currentLogContext } from '@app/logging';
import { lastValueFrom, Observable } from 'rxjs';
import { CallContextInterceptor } from './call-context.interceptor';

/** A unary call's handler arguments: (request, metadata, call). */
function unaryCall(sent?: string) {
  const metadata = new Metadata();
  if (sent !== undefined) metadata.set('x-correlation-id', sent);
  const sendMetadata = jest.fn();
  const context = {
    getArgs: () => [{}, metadata, { metadata, sendMetadata }],
  } as unknown as ExecutionContext;
  return { context, sendMetadata };
}

/** A handler that reports the log context it ran in, as a service logging inside it would. */
const handler: CallHandler = {
  handle: () => new Observable((s) => void (s.next(currentLogContext()), s.complete())),
};

async function run(sent?: string) {
  const { context, sendMetadata } = unaryCall(sent);
  const seen = await lastValueFrom(new CallContextInterceptor().intercept(context, handler));
  const echoed = (sendMetadata.mock.calls[0]![0] as Metadata).get('x-correlation-id')[0];
  return { seen: seen as { correlationId?: string }, echoed };
}

describe('CallContextInterceptor', () => {
  it("runs the handler under the client's correlation id and sends it back", async () => {
    const { seen, echoed } = await run('trace-4bf92f35:01');
    expect(seen.correlationId).toBe('trace-4bf92f35:01');
    expect(echoed).toBe('trace-4bf92f35:01');
  });

  it('makes one up when the client sent none, and tells the client which', async () => {
    const a = await run();
    const b = await run();
    expect(a.seen.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.echoed).toBe(a.seen.correlationId);
    expect(b.seen.correlationId).not.toBe(a.seen.correlationId);
  });

  it('never puts free text from a client into the logs', async () => {
    for (const bad of ['two words', 'x'.repeat(129), '{"level":"error"}', '']) {
      const { seen } = await run(bad);
      expect(seen.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('leaves no context behind once the call is done', async () => {
    await run('gone-after');
    expect(currentLogContext().correlationId).toBeUndefined();
  });
});
