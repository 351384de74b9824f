import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The built front end (`npm run build` writes it to dist/console): VIGIL_CONSOLE_DIR, else the
 * nearest `dist/console` above this code (source tree, dist bundle or container image) or the
 * working directory; undefined when it was never built, and the console serves its API only.
 */
export function consoleAssetsDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.VIGIL_CONSOLE_DIR) {
    if (!existsSync(join(env.VIGIL_CONSOLE_DIR, 'index.html'))) {
      throw new Error(`VIGIL_CONSOLE_DIR=${env.VIGIL_CONSOLE_DIR} holds no index.html`);
    }
    return env.VIGIL_CONSOLE_DIR;
  }
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const candidate = join(dir, 'dist', 'console');
      if (existsSync(join(candidate, 'index.html'))) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}
