import type { InjectionToken, Provider } from '@nestjs/common';

/**
 * A provider that hands out one part of another provider's value (the runtime's history, the
 * desk's feed), so the controllers' ports bind to parts built together in one place.
 */
export function derivedProvider<S, T>(
  provide: InjectionToken,
  source: InjectionToken & { prototype: S },
  pick: (value: S) => T,
): Provider {
  return { provide, inject: [source], useFactory: pick };
}
