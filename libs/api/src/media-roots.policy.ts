import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError, ApiErrorCode } from './api.error';

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Which local files an API caller may start as a stream: those under a configured media root
 * (none by default). Without it an operator token could make the server read any file it can
 * (`/etc/passwd`, a key). URLs are governed by ffmpeg's protocol whitelist instead. Paths are
 * compared after resolving symlinks and `..`, so neither walks out of a root.
 */
export class MediaRootsPolicy {
  private readonly roots: string[];

  constructor(roots: readonly string[]) {
    this.roots = roots.map(canonical);
  }

  check(source: string): void {
    const path = localPath(source);
    if (path === undefined) return;
    if (this.roots.length === 0) {
      throw new ApiError(
        ApiErrorCode.PERMISSION_DENIED,
        'source: local files may be started only under a media root ' +
          '(VIGIL_MEDIA_ROOTS or streams.mediaRoots), and none is configured',
        'source',
      );
    }
    const file = canonical(path);
    if (!this.roots.some((root) => inside(root, file))) {
      throw new ApiError(
        ApiErrorCode.PERMISSION_DENIED,
        `source: ${path} is outside the media roots (${this.roots.join(', ')})`,
        'source',
      );
    }
  }
}

/** The file a source names, or undefined for a URL of another scheme. */
function localPath(source: string): string | undefined {
  if (/^file:/i.test(source)) {
    try {
      return fileURLToPath(source);
    } catch {
      return source.slice('file:'.length);
    }
  }
  return SCHEME.test(source) ? undefined : source;
}

function canonical(path: string): string {
  const absolute = resolve(path);
  return existsSync(absolute) ? realpathSync(absolute) : absolute;
}

function inside(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
