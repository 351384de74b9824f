import { delimiter, isAbsolute, join } from 'node:path';
import { FileInspector } from './file.inspector';
import { MediaError, MediaErrorCode } from './media.error';

export interface FfmpegLocatorDeps {
  /** Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  files?: Pick<FileInspector, 'isExecutableFile'>;
  /**
   * What `require('ffmpeg-static')` gives: a path, or null/undefined when the optional package
   * is absent or ships no binary for this platform.
   */
  ffmpegStatic?: () => string | null | undefined;
  platform?: NodeJS.Platform;
}

const INSTALL_HINT =
  'install one (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; or npm install ffmpeg-static) ' +
  'or set FFMPEG_PATH to an ffmpeg executable';

/**
 * Finds the ffmpeg binary once: FFMPEG_PATH, else the ffmpeg-static package's binary, else
 * `ffmpeg` on PATH. An explicit FFMPEG_PATH that is wrong is an error rather than a silent
 * fallback, so a misconfigured deployment does not quietly run a different ffmpeg.
 */
export class FfmpegLocator {
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly files: Pick<FileInspector, 'isExecutableFile'>;
  private readonly ffmpegStatic: () => string | null | undefined;
  private readonly platform: NodeJS.Platform;
  private found?: string;

  constructor(deps: FfmpegLocatorDeps = {}) {
    this.env = deps.env ?? process.env;
    this.files = deps.files ?? new FileInspector();
    this.ffmpegStatic = deps.ffmpegStatic ?? requireFfmpegStatic;
    this.platform = deps.platform ?? process.platform;
  }

  /** Absolute path (or PATH hit) of the ffmpeg to run; throws MediaError FFMPEG_NOT_FOUND. */
  locate(): string {
    this.found ??= this.search();
    return this.found;
  }

  private search(): string {
    const explicit = this.env.FFMPEG_PATH?.trim();
    if (explicit) {
      if (this.files.isExecutableFile(explicit)) return explicit;
      throw new MediaError(
        MediaErrorCode.FFMPEG_NOT_FOUND,
        `FFMPEG_PATH is set to ${explicit}, which is not an executable file: fix FFMPEG_PATH or unset it to use ffmpeg from PATH`,
      );
    }
    const bundled = this.ffmpegStatic();
    if (bundled && this.files.isExecutableFile(bundled)) return bundled;
    const onPath = this.searchPath();
    if (onPath) return onPath;
    throw new MediaError(
      MediaErrorCode.FFMPEG_NOT_FOUND,
      `ffmpeg was not found (FFMPEG_PATH unset, no ffmpeg-static binary, no ffmpeg on PATH): ${INSTALL_HINT}`,
    );
  }

  private searchPath(): string | undefined {
    const windows = this.platform === 'win32';
    const pathVar = (windows ? (this.env.Path ?? this.env.PATH) : this.env.PATH) ?? '';
    const names = windows
      ? (this.env.PATHEXT ?? '.EXE')
          .split(';')
          .filter(Boolean)
          .map((ext) => `ffmpeg${ext.toLowerCase()}`)
      : ['ffmpeg'];
    const separator = windows ? ';' : delimiter;
    for (const dir of pathVar.split(separator)) {
      // An empty or relative PATH entry means "the current directory": never run a binary from there.
      if (!dir || !isAbsolute(dir)) continue;
      for (const name of names) {
        const candidate = join(dir, name);
        if (this.files.isExecutableFile(candidate)) return candidate;
      }
    }
    return undefined;
  }
}

function requireFfmpegStatic(): string | null | undefined {
  try {
    // Optional dependency: absent on installs without internet, so resolve it at run time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const exported: unknown = require('ffmpeg-static');
    return typeof exported === 'string' ? exported : null;
  } catch {
    return undefined;
  }
}
