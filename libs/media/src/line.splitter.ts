/**
 * Turns a byte stream of log text into lines. ffmpeg ends progress lines with '\r', so both
 * '\r' and '\n' end a line. A line that never ends (garbage on stderr) is cut at `maxLineLength`
 * so it cannot grow without bound.
 */
export class LineSplitter {
  private partial = '';

  constructor(private readonly maxLineLength = 4096) {}

  push(chunk: string): string[] {
    const pieces = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = pieces.pop() ?? '';
    if (this.partial.length > this.maxLineLength) {
      pieces.push(this.partial.slice(0, this.maxLineLength));
      this.partial = '';
    }
    return pieces
      .filter((line) => line.length > 0)
      .map((line) => line.slice(0, this.maxLineLength));
  }

  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest.length > 0 ? [rest] : [];
  }
}
