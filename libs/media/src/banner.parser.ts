import type { MediaInfo } from './decode.contract';
import type { LogLine } from './log-line.parser';

const INPUT_HEADER = /^Input #0, /;
const DURATION = /^\s+Duration: (?:(\d+):(\d{2}):(\d{2}(?:\.\d+)?)|N\/A)/;
const STREAM = /^\s+Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (.*)$/;
/** Sizes follow ", " in the stream description; codec tags such as "0x31637661" never do. */
const FRAME_SIZE = /, (\d{1,5})x(\d{1,5})\b/;
const DISPLAY_MATRIX = /^\s+displaymatrix: rotation of (-?\d+(?:\.\d+)?) degrees/;
const ROTATE_TAG = /^\s+rotate\s+: (-?\d+)/;

/**
 * Reads ffmpeg's description of input #0 from stderr, line by line. `complete` turns true at the
 * first unindented line of ffmpeg's own after the description (usually "Stream mapping:", or the
 * error that stops it), which ffmpeg prints before any media data leaves it.
 */
export class BannerParser {
  private started = false;
  private done = false;
  private hasAudio = false;
  private hasVideo = false;
  private durationSec?: number;
  private width?: number;
  private height?: number;
  private rotation = 0;
  private videoCodec?: string;
  private audioCodec?: string;
  /** Rotation lines belong to the stream above them; only the first picture stream's count. */
  private inFirstVideoStream = false;

  get complete(): boolean {
    return this.done;
  }

  /** Feed one parsed stderr line; returns true when this line completed the description. */
  push(entry: LogLine): boolean {
    // Demuxers and decoders log in between; only ffmpeg's own lines make up the description.
    if (this.done || entry.component !== undefined) return false;
    const line = entry.text;
    if (!this.started) {
      this.started = INPUT_HEADER.test(line);
      return false;
    }
    if (!/^\s/.test(line)) {
      this.done = true;
      return true;
    }
    this.readLine(line);
    return false;
  }

  info(): MediaInfo {
    const quarterTurn = this.rotation === 90 || this.rotation === 270;
    return {
      hasAudio: this.hasAudio,
      hasVideo: this.hasVideo,
      ...(this.durationSec !== undefined && { durationSec: this.durationSec }),
      ...(this.width !== undefined && { width: quarterTurn ? this.height : this.width }),
      ...(this.height !== undefined && { height: quarterTurn ? this.width : this.height }),
      ...(this.hasVideo && { rotation: this.rotation }),
      ...(this.videoCodec && { videoCodec: this.videoCodec }),
      ...(this.audioCodec && { audioCodec: this.audioCodec }),
    };
  }

  private readLine(line: string): void {
    const duration = DURATION.exec(line);
    if (duration) {
      if (duration[1] !== undefined) {
        this.durationSec =
          Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
      }
      return;
    }
    const stream = STREAM.exec(line);
    if (stream) {
      this.inFirstVideoStream = false;
      const [, kind, description] = stream;
      const codec = /^([\w-]+)/.exec(description)?.[1];
      if (kind === 'Audio' && !this.hasAudio) {
        this.hasAudio = true;
        this.audioCodec = codec;
      } else if (kind === 'Video' && !this.hasVideo && !description.includes('(attached pic)')) {
        // We map 0:V:0 (pictures that are not cover art), i.e. this first such stream.
        this.hasVideo = true;
        this.inFirstVideoStream = true;
        this.videoCodec = codec;
        const size = FRAME_SIZE.exec(description);
        if (size && Number(size[1]) > 0 && Number(size[2]) > 0) {
          this.width = Number(size[1]);
          this.height = Number(size[2]);
        }
      }
      return;
    }
    if (!this.inFirstVideoStream) return;
    const rotation = DISPLAY_MATRIX.exec(line) ?? ROTATE_TAG.exec(line);
    if (rotation) this.rotation = (((Math.round(Number(rotation[1]) / 90) * 90) % 360) + 360) % 360;
  }
}
