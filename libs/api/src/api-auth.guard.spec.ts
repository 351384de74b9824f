import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Metadata } from '@grpc/grpc-js';
import { strictMock } from '@app/testing';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError, ApiErrorCode } from './api.error';
import { ApiTokenRegistry } from './api-token.registry';

@RequireRole('viewer')
class Events {
  list() {}
  @RequireRole('operator')
  purge() {}
}

class Unmarked {
  anything() {}
}

function context(target: object, method: string, args: unknown[]): ExecutionContext {
  return strictMock<ExecutionContext>('ExecutionContext', {
    getHandler: () => (target as Record<string, () => void>)[method]!,
    getClass: () => (target as { constructor: new () => unknown }).constructor as never,
    getArgs: (() => args) as ExecutionContext['getArgs'],
  });
}

function metadata(authorization?: string): Metadata {
  const m = new Metadata();
  if (authorization) m.set('authorization', authorization);
  return m;
}

function codeOf(run: () => unknown): ApiErrorCode | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return (error as ApiError).code;
  }
}

describe('ApiAuthGuard', () => {
  const tokens = new ApiTokenRegistry([
    { name: 'vms', role: 'operator', token: 'operator-token-0123456789' },
    { name: 'wall', role: 'viewer', token: 'viewer-token-0123456789' },
  ]);
  const guard = new ApiAuthGuard(new Reflector(), tokens);
  const events = new Events();

  it('lets a role through where it is enough, on unary and stream calls alike', () => {
    expect(
      guard.canActivate(
        context(events, 'list', [{}, metadata('Bearer viewer-token-0123456789'), {}]),
      ),
    ).toBe(true);
    // Stream calls get the call itself, which carries the metadata.
    const call = { metadata: metadata('Bearer operator-token-0123456789') };
    expect(guard.canActivate(context(events, 'purge', [call]))).toBe(true);
  });

  it('refuses a viewer where an operator is needed, and unknown callers everywhere', () => {
    expect(
      codeOf(() =>
        guard.canActivate(
          context(events, 'purge', [{}, metadata('Bearer viewer-token-0123456789')]),
        ),
      ),
    ).toBe(ApiErrorCode.PERMISSION_DENIED);
    expect(codeOf(() => guard.canActivate(context(events, 'list', [{}, metadata()])))).toBe(
      ApiErrorCode.UNAUTHENTICATED,
    );
    expect(
      codeOf(() =>
        guard.canActivate(context(events, 'list', [{}, metadata('Bearer nope-nope-nope')])),
      ),
    ).toBe(ApiErrorCode.UNAUTHENTICATED);
  });

  it('refuses methods that declare no role, even on an open server', () => {
    const open = new ApiAuthGuard(new Reflector(), new ApiTokenRegistry([]));
    expect(
      codeOf(() => open.canActivate(context(new Unmarked(), 'anything', [{}, metadata()]))),
    ).toBe(ApiErrorCode.PERMISSION_DENIED);
    expect(open.canActivate(context(events, 'purge', [{}, metadata()]))).toBe(true);
  });
});
