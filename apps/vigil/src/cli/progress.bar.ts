import type { Clock } from './clock';

/**
 * One line on a terminal, rewritten in place: position, duration and speed as × real time.
 * Draws at most every 100 ms so a fast analysis does not spend its time on the terminal.
 */
export class ProgressBar {
  private startedAt = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly clock: Clock,
    private readonly width = 30,
  ) {}

  start(): void {
    this.startedAt = this.clock.now();
  }

  update(positionSec: number, durationSec: number | undefined, force = false): void {
    const now = this.clock.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsedSec = Math.max((now - this.startedAt) / 1000, 1e-3);
    const speed = positionSec / elapsedSec;
    const fraction = durationSec ? Math.min(positionSec / durationSec, 1) : undefined;
    const filled = fraction === undefined ? 0 : Math.round(fraction * this.width);
    const bar =
      fraction === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] `;
    const of = durationSec ? ` / ${formatClock(durationSec)}` : '';
    this.out.write(
      `\r${bar}${formatClock(positionSec)}${of}  ${speed.toFixed(1)}× real time\x1b[K`,
    );
    this.drawn = true;
  }

  /** Counted work instead of media time: "[####......] 12/40 items". */
  count(done: number, total: number, unit: string): void {
    const now = this.clock.now();
    if (done < total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const filled = total > 0 ? Math.round((done / total) * this.width) : 0;
    const elapsedSec = (now - this.startedAt) / 1000;
    this.out.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${done}/${total} ${unit}  ${elapsedSec.toFixed(0)} s\x1b[K`,
    );
    this.drawn = true;
  }

  finish(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
  }
}

export function formatClock(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}
