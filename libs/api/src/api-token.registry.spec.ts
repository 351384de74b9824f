import { ApiError, ApiErrorCode } from './api.error';
import { ApiTokenRegistry } from './api-token.registry';

describe('ApiTokenRegistry', () => {
  const registry = new ApiTokenRegistry([
    { name: 'vms', role: 'operator', token: 'operator-token-0123456789' },
    { name: 'wall', role: 'viewer', token: 'viewer-token-0123456789' },
  ]);

  it('finds the principal behind a bearer token', () => {
    expect(registry.authenticate('Bearer operator-token-0123456789')).toEqual({
      name: 'vms',
      role: 'operator',
    });
    expect(registry.authenticate('bearer viewer-token-0123456789')).toEqual({
      name: 'wall',
      role: 'viewer',
    });
  });

  it.each([
    [undefined, 'missing bearer token'],
    ['operator-token-0123456789', 'authorization must be "Bearer <token>"'],
    ['Bearer operator-token-012345678', 'unknown bearer token'],
    ['Bearer ', 'authorization must be "Bearer <token>"'],
  ])('refuses %j as UNAUTHENTICATED', (header, message) => {
    let error: unknown;
    try {
      registry.authenticate(header);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: ApiErrorCode.UNAUTHENTICATED, message });
  });

  it('is open only without tokens', () => {
    expect(registry.open).toBe(false);
    expect(new ApiTokenRegistry([]).open).toBe(true);
  });
});
