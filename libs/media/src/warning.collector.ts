import { isProblem, type LogLine } from './log-line.parser';

/** Harmless chatter at warning level that would only bury the warnings that matter. */
const NOISE =
  /deprecated pixel format used|Guessed Channel Layout|No accelerated colorspace conversion/i;
/** What ffmpeg says when we close a pipe or ask it to quit: our doing, not the input's. */
const OUR_DOING =
  /Broken pipe|Conversion failed|Exiting normally, received signal|Received > \d+ system signals/i;
/** What ffmpeg says when the data stops before the container said it would. */
const TRUNCATION = /partial file|ends prematurely|truncat/i;

/**
 * Keeps the distinct warnings and errors ffmpeg logged during a run that still succeeded
 * (corrupt packets, partial files), bounded, with repeats counted instead of listed.
 */
export class WarningCollector {
  private readonly seen = new Map<string, { text: string; count: number }>();
  private dropped = 0;
  private truncation = false;

  constructor(private readonly limit = 10) {}

  push(entry: LogLine): void {
    if (!isProblem(entry.level) || NOISE.test(entry.text) || OUR_DOING.test(entry.text)) return;
    const text = `${entry.component ? `${entry.component}: ` : ''}${entry.text.trim()}`;
    if (TRUNCATION.test(text)) this.truncation = true;
    // Offsets and timestamps differ between repeats of the same complaint.
    const key = text.replace(/0x[0-9a-f]+|\d+(?:\.\d+)?/gi, '#');
    const known = this.seen.get(key);
    if (known) known.count++;
    else if (this.seen.size < this.limit) this.seen.set(key, { text, count: 1 });
    else this.dropped++;
  }

  /** ffmpeg itself said the input ended early. */
  get truncationReported(): boolean {
    return this.truncation;
  }

  warnings(): string[] {
    const list = [...this.seen.values()].map(({ text, count }) =>
      count > 1 ? `${text} (${count} times)` : text,
    );
    if (this.dropped > 0) list.push(`${this.dropped} more ffmpeg warnings not shown`);
    return list;
  }
}
