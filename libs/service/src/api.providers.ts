import type { Provider } from '@nestjs/common';
import { type ApiToken, ApiAuthGuard, ApiTokenRegistry, LiveCalls } from '@app/api';

/**
 * What every module serving the gRPC API needs besides its controllers' ports: the tokens its
 * guard checks, the guard, and the registry of calls ended first at shutdown.
 */
export function apiProviders(tokens: readonly ApiToken[]): Provider[] {
  return [
    { provide: ApiTokenRegistry, useValue: new ApiTokenRegistry(tokens) },
    ApiAuthGuard,
    LiveCalls,
  ];
}
