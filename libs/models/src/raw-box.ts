/** A decoded detector box before label groups: one model label, in source-frame pixels. */
export interface RawBox {
  label: string;
  labelIndex: number;
  score: number;
  /** [x1, y1, x2, y2]. */
  box: [number, number, number, number];
}
