/**
 * A test double that fails loudly when code under test touches a member the test did not
 * provide, so a unit test documents every collaborator call it allows.
 */
export function strictMock<T extends object>(name: string, members: Partial<T>): T {
  return new Proxy(members as T, {
    get(target, prop, receiver) {
      // Promise resolution and jest's matchers probe these; answering "absent" is harmless.
      if (
        typeof prop === 'symbol' ||
        prop === 'then' ||
        prop === 'asymmetricMatch' ||
        prop === 'toJSON'
      ) {
        return Reflect.get(target, prop, receiver);
      }
      if (!(prop in target)) throw new Error(`unexpected access to ${name}.${prop}`);
      return Reflect.get(target, prop, receiver);
    },
  });
}
