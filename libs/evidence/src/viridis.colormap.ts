import type { Rgb } from './image.raster';

/**
 * Viridis (van der Walt & Smith, the matplotlib default) sampled at 16 evenly spaced points.
 * Perceptually uniform and monotonic in lightness, so loudness reads the same in every part of
 * the scale, on grey-scale printouts and for colour-blind operators — unlike a rainbow map.
 */
export const VIRIDIS_ANCHORS: readonly Rgb[] = [
  [0x44, 0x01, 0x54],
  [0x48, 0x1a, 0x6c],
  [0x47, 0x2f, 0x7d],
  [0x41, 0x44, 0x87],
  [0x39, 0x56, 0x8c],
  [0x31, 0x68, 0x8e],
  [0x2a, 0x78, 0x8e],
  [0x23, 0x88, 0x8e],
  [0x1f, 0x98, 0x8b],
  [0x22, 0xa8, 0x84],
  [0x35, 0xb7, 0x79],
  [0x54, 0xc5, 0x68],
  [0x7a, 0xd1, 0x51],
  [0xa5, 0xdb, 0x36],
  [0xd2, 0xe2, 0x1b],
  [0xfd, 0xe7, 0x25],
];

/** Colour for t in [0, 1] (clamped; NaN counts as 0), linearly interpolated between anchors. */
export function viridis(t: number): Rgb {
  const clamped = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
  const pos = clamped * (VIRIDIS_ANCHORS.length - 1);
  const i = Math.min(VIRIDIS_ANCHORS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VIRIDIS_ANCHORS[i];
  const b = VIRIDIS_ANCHORS[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** `levels` colours from t = 0 to 1, so a renderer maps values with one index per pixel. */
export function viridisTable(levels = 256): Rgb[] {
  return Array.from({ length: levels }, (_, i) => viridis(levels === 1 ? 0 : i / (levels - 1)));
}
