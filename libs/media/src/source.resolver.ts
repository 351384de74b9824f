import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileInspector } from './file.inspector';
import { MediaError, MediaErrorCode } from './media.error';
import { redactUrl } from './url.redactor';

export type SourceScheme =
  'file' | 'http' | 'https' | 'rtsp' | 'rtsps' | 'rtmp' | 'rtmps' | 'tcp' | 'udp';

export interface ResolvedSource {
  scheme: SourceScheme;
  /** The `-i` argument: `file:<absolute path>` for files, so no name can pass for an option or a protocol. */
  input: string;
  /** Redacted, for messages and logs. */
  label: string;
  /**
   * Every protocol ffmpeg may open while reading this source, nested opens included (playlist
   * entries, RTP under RTSP). Remote sources never get `file`, so a playlist served over HTTP
   * cannot make ffmpeg read local files.
   */
  protocols: readonly string[];
  /** Needs a network timeout so a dead peer cannot hang ffmpeg. */
  network: boolean;
  /** Real-time by nature: frames come at the sender's pace and old ones lose their value. */
  liveByDefault: boolean;
}

/**
 * Per scheme, the smallest whitelist that works. tls only where the scheme itself is TLS
 * or may redirect to it (http→https); crypto only for HLS's AES-128 segments; rtp+udp because
 * RTSP carries media over RTP/UDP unless it falls back to interleaved TCP.
 */
const SCHEMES: Readonly<
  Record<SourceScheme, { protocols: string[]; network: boolean; live: boolean }>
> = {
  file: { protocols: ['file'], network: false, live: false },
  http: { protocols: ['http', 'https', 'tcp', 'tls', 'crypto'], network: true, live: false },
  https: { protocols: ['http', 'https', 'tcp', 'tls', 'crypto'], network: true, live: false },
  rtsp: { protocols: ['rtsp', 'rtp', 'udp', 'tcp'], network: true, live: true },
  rtsps: { protocols: ['rtsp', 'rtsps', 'rtp', 'udp', 'tcp', 'tls'], network: true, live: true },
  rtmp: { protocols: ['rtmp', 'tcp'], network: true, live: true },
  rtmps: { protocols: ['rtmp', 'rtmps', 'tcp', 'tls'], network: true, live: true },
  tcp: { protocols: ['tcp'], network: true, live: true },
  udp: { protocols: ['udp'], network: true, live: true },
};

/** Two or more characters, so a Windows drive letter ("C:\clip.mp4") stays a path. */
const SCHEME = /^([a-z][a-z0-9+.-]+):/i;

/**
 * Checks a source before anything is spawned: the scheme must be one we allow, and a local file
 * must exist and hold something. Failures are MediaErrors, like ffmpeg's own.
 */
export class SourceResolver {
  constructor(
    private readonly files: Pick<FileInspector, 'stat'> = new FileInspector(),
    private readonly cwd: () => string = () => process.cwd(),
  ) {}

  resolve(source: string): ResolvedSource {
    const trimmed = source.trim();
    if (!trimmed)
      throw new MediaError(
        MediaErrorCode.SOURCE_NOT_FOUND,
        'Source not found: no source given (empty string)',
      );
    const scheme = SCHEME.exec(trimmed)?.[1].toLowerCase();
    if (scheme === undefined) return this.resolveFile(trimmed, trimmed);
    if (scheme === 'file') return this.resolveFile(this.fileUrlPath(trimmed), redactUrl(trimmed));
    if (!(scheme in SCHEMES)) {
      throw MediaError.about(
        MediaErrorCode.PROTOCOL_NOT_ALLOWED,
        redactUrl(trimmed),
        `'${scheme}' is not accepted; use a file path or an ${Object.keys(SCHEMES)
          .filter((s) => s !== 'file')
          .join(', ')} URL`,
      );
    }
    const label = redactUrl(trimmed);
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw MediaError.about(MediaErrorCode.SOURCE_NOT_FOUND, label, 'not a valid URL');
    }
    if (!url.hostname) {
      throw MediaError.about(MediaErrorCode.SOURCE_NOT_FOUND, label, 'the URL names no host');
    }
    const facts = SCHEMES[scheme as SourceScheme];
    return {
      scheme: scheme as SourceScheme,
      input: trimmed,
      label,
      protocols: facts.protocols,
      network: facts.network,
      liveByDefault: facts.live,
    };
  }

  private fileUrlPath(url: string): string {
    // ffmpeg accepts "file:relative/path" as well as RFC 8089 "file:///abs".
    if (!url.toLowerCase().startsWith('file://')) return url.slice('file:'.length);
    try {
      return fileURLToPath(url);
    } catch {
      throw MediaError.about(
        MediaErrorCode.SOURCE_NOT_FOUND,
        redactUrl(url),
        'not a valid local file URL',
      );
    }
  }

  private resolveFile(path: string, shown: string): ResolvedSource {
    const absolute = isAbsolute(path) ? path : resolvePath(this.cwd(), path);
    const facts = this.files.stat(absolute);
    if (!facts) {
      throw MediaError.about(MediaErrorCode.SOURCE_NOT_FOUND, shown, 'no such file');
    }
    if (!facts.isFile) {
      throw MediaError.about(MediaErrorCode.UNSUPPORTED_INPUT, shown, 'not a regular file');
    }
    if (facts.size === 0) {
      throw MediaError.about(
        MediaErrorCode.UNSUPPORTED_INPUT,
        shown,
        'the file is empty (0 bytes)',
      );
    }
    return {
      scheme: 'file',
      input: `file:${absolute}`,
      label: absolute,
      protocols: SCHEMES.file.protocols,
      network: false,
      liveByDefault: false,
    };
  }
}
