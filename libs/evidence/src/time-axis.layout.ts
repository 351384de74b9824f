/** A tick on a time axis, at `x` pixels from the axis origin. */
export interface AxisTick {
  sec: number;
  x: number;
}

export interface LabelledTick extends AxisTick {
  label: string;
}

export interface TimeAxisLayout {
  /** Long, labelled ticks. */
  major: LabelledTick[];
  /** Short ticks between the labels; empty when they would crowd together. */
  minor: AxisTick[];
  stepSec: number;
}

export interface TimeAxisRequest {
  /** Stream time at x = 0. */
  fromSec: number;
  /** Stream time at x = widthPx. */
  toSec: number;
  widthPx: number;
  /** Labels closer than this would collide; default 48 px. */
  minLabelSpacingPx?: number;
}

/**
 * Label steps an operator can count in, with how many minor intervals each one splits into
 * (0.5 s → 0.1 s ticks, 1 s → 0.5 s ticks, ...).
 */
const STEPS: readonly (readonly [step: number, divisions: number])[] = [
  [0.5, 5],
  [1, 2],
  [2, 4],
  [5, 5],
  [10, 2],
  [15, 3],
  [30, 3],
  [60, 2],
  [120, 4],
  [300, 5],
  [600, 2],
  [1800, 3],
  [3600, 2],
];
const MIN_MINOR_SPACING_PX = 5;

/** Ticks for a time axis: the finest step whose labels do not collide, in whole multiples. */
export function layoutTimeAxis(request: TimeAxisRequest): TimeAxisLayout {
  const { fromSec, toSec, widthPx } = request;
  const span = toSec - fromSec;
  if (!(span > 0) || !(widthPx > 0)) return { major: [], minor: [], stepSec: 0 };
  const pxPerSec = widthPx / span;
  const minSpacing = request.minLabelSpacingPx ?? 48;
  const [stepSec, divisions] =
    STEPS.find(([step]) => step * pxPerSec >= minSpacing) ?? STEPS[STEPS.length - 1];
  const minorSec = stepSec / divisions;
  const toX = (sec: number) => (sec - fromSec) * pxPerSec;

  const major: LabelledTick[] = multiples(fromSec, toSec, stepSec).map((sec) => ({
    sec,
    x: toX(sec),
    label: formatTime(sec, stepSec < 1 ? 1 : 0),
  }));
  const minor: AxisTick[] =
    minorSec * pxPerSec < MIN_MINOR_SPACING_PX
      ? []
      : multiples(fromSec, toSec, minorSec)
          .filter((sec) => !isMultiple(sec, stepSec))
          .map((sec) => ({ sec, x: toX(sec) }));
  return { major, minor, stepSec };
}

/**
 * "4.5" below a minute, "1:02.5" above, "1:00:00" above an hour: stream times as a person
 * reads them next to the recording.
 */
export function formatTime(sec: number, decimals: number): string {
  const sign = sec < 0 ? '-' : '';
  const scale = 10 ** decimals;
  const totalUnits = Math.round(Math.abs(sec) * scale);
  const whole = Math.floor(totalUnits / scale);
  const fraction = decimals > 0 ? `.${String(totalUnits % scale).padStart(decimals, '0')}` : '';
  if (whole < 60) return `${sign}${whole}${fraction}`;
  const seconds = String(whole % 60).padStart(2, '0');
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${sign}${minutes}:${seconds}${fraction}`;
  const mins = String(minutes % 60).padStart(2, '0');
  return `${sign}${Math.floor(minutes / 60)}:${mins}:${seconds}${fraction}`;
}

/** k·step inside [from, to], computed from integers so 0.1 steps do not drift. */
function multiples(from: number, to: number, step: number): number[] {
  const eps = 1e-9;
  const first = Math.ceil(from / step - eps);
  const last = Math.floor(to / step + eps);
  const out: number[] = [];
  for (let k = first; k <= last; k++) out.push(roundTo(k * step));
  return out;
}

function isMultiple(sec: number, step: number): boolean {
  return Math.abs(sec / step - Math.round(sec / step)) < 1e-6;
}

function roundTo(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}
