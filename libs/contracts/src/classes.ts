/** Vigil's canonical classes. Every model's labels map into these through label groups. */
export const AUDIO_CLASSES = [
  'glass_break',
  'gunshot',
  'scream',
  'siren',
  'alarm',
  'dog_bark',
  'car_horn',
  'speech',
] as const;
export type AudioClass = (typeof AUDIO_CLASSES)[number];

export const VIDEO_CLASSES = ['person', 'vehicle', 'animal'] as const;
export type VideoClass = (typeof VIDEO_CLASSES)[number];

export type CanonicalClass = AudioClass | VideoClass;
export type Modality = 'audio' | 'video';

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export function isAudioClass(value: string): value is AudioClass {
  return (AUDIO_CLASSES as readonly string[]).includes(value);
}

export function isVideoClass(value: string): value is VideoClass {
  return (VIDEO_CLASSES as readonly string[]).includes(value);
}
