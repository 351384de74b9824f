/**
 * Maps an index of the conceptually padded signal onto [0, len) the way torch's
 * pad_mode='reflect' does (edge sample not repeated: ..., x2, x1, x0, x1, x2, ...).
 *
 * torch only accepts a pad shorter than the signal, where one reflection is enough. For
 * shorter signals we keep reflecting back and forth (numpy's np.pad 'reflect' behaviour):
 * torch would refuse them, but a stream that ends early must still produce its frames, and
 * wherever torch is defined the two rules give the same index.
 */
export function reflectIndex(i: number, len: number): number {
  if (i >= 0 && i < len) return i;
  // A single sample has nothing to reflect off: numpy repeats it.
  if (len === 1) return 0;
  const period = 2 * (len - 1);
  let m = (i % period) | 0; // | 0 turns -0 (from e.g. -4 % 4) into an integer 0
  if (m < 0) m += period;
  return m < len ? m : period - m;
}
