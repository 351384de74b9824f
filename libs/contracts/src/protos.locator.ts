import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const MARKER = join('vigil', 'v1', 'media.proto');

/**
 * The `.proto` files are the contract for Kafka payloads and gRPC alike, read at run time so
 * there is no generated copy to drift. Found through VIGIL_PROTOS_DIR, else the nearest
 * `protos/` folder above this code (source tree, dist bundle or container image) or the
 * working directory.
 */
export function protosDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIGIL_PROTOS_DIR) {
    if (!existsSync(join(env.VIGIL_PROTOS_DIR, MARKER))) {
      throw new Error(`VIGIL_PROTOS_DIR=${env.VIGIL_PROTOS_DIR} holds no ${MARKER}`);
    }
    return env.VIGIL_PROTOS_DIR;
  }
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const candidate = join(dir, 'protos');
      if (existsSync(join(candidate, MARKER))) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`protos/${MARKER} not found above ${__dirname}; set VIGIL_PROTOS_DIR`);
}
