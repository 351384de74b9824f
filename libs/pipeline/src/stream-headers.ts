import { EDGE_SEQ_HEADER, type Headers } from '@app/bus';

/**
 * Stream labels (site, camera name…) ride along in a header rather than in every payload: the
 * stages pass headers through untouched, so whoever starts a stream decides what an operator
 * later sees next to its incidents, without any stage knowing about labels.
 */
export const LABELS_HEADER = 'x-vigil-labels';

/** Who asked for the stream; `analysis` marks one-off AnalyzeClip uploads. */
export const ORIGIN_HEADER = 'x-vigil-origin';
export const ANALYSIS_ORIGIN = 'analysis';

/**
 * Which start command a stream's run came from, as `partition:offset` on the commands topic.
 * Its statuses carry it, so an ingest reading that command again knows whether that very run
 * ended (nothing to do) or is to be resumed, and not some earlier or later run of the same id.
 */
export const COMMAND_HEADER = 'x-vigil-command';

/** Headers are small by nature (Kafka keeps them with every message); labels are a few names. */
export const MAX_LABELS_HEADER_BYTES = 8 * 1024;

export function encodeLabelsHeader(labels: Record<string, string>): string {
  const problem = labelsProblem(labels);
  if (problem) throw new TypeError(`stream labels ${problem}`);
  const encoded = JSON.stringify(labels);
  if (Buffer.byteLength(encoded) > MAX_LABELS_HEADER_BYTES) {
    throw new RangeError(`stream labels take more than ${MAX_LABELS_HEADER_BYTES} bytes`);
  }
  return encoded;
}

/**
 * The labels a message carries, or undefined when it carries none. A malformed header costs the
 * event its labels, never the event itself: `onProblem` hears why.
 */
export function decodeLabelsHeader(
  headers: Headers,
  onProblem: (message: string) => void,
): Record<string, string> | undefined {
  const raw = headers[LABELS_HEADER];
  if (raw === undefined) return undefined;
  if (Buffer.byteLength(raw) > MAX_LABELS_HEADER_BYTES) {
    onProblem(`${LABELS_HEADER} ignored: more than ${MAX_LABELS_HEADER_BYTES} bytes`);
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    onProblem(`${LABELS_HEADER} ignored: not JSON`);
    return undefined;
  }
  const problem = labelsProblem(parsed);
  if (problem) {
    onProblem(`${LABELS_HEADER} ignored: ${problem}`);
    return undefined;
  }
  return parsed as Record<string, string>;
}

/** Names the fusion rules profile a stream was started with. */
export const RULES_PROFILE_HEADER = 'x-vigil-rules-profile';
export const DEFAULT_RULES_PROFILE = 'default';

/**
 * The idempotency key of the start command a run came from (StartStream's request_id): its
 * statuses carry it, so a retried start finds the run it already made, on any replica.
 */
export const REQUEST_HEADER = 'x-vigil-request';

/** One start of a live stream (its start time, set by the supervisor): event ids are scoped to it. */
export const RUN_HEADER = 'x-vigil-run';

/**
 * A live run's capture clock: the wall time (ms since the epoch) at which its media time 0 was
 * captured, estimated by ingest from when the first chunk or frame arrived. Fusion measures
 * capture-to-incident latency with it; files, decoded faster than real time, carry none.
 */
export const CAPTURE_EPOCH_HEADER = 'x-vigil-capture-epoch';

/**
 * On the video frames of a live run only: the wall-clock time (ms since the epoch) ingest
 * published the frame at. Inference drops a live frame that waited longer than its bound while
 * the detector was behind, which keeps live streams bounded in latency; a file analysed as a
 * file has no such header and keeps every frame.
 */
export const LIVE_FRAME_HEADER = 'x-vigil-live-ms';

/**
 * The headers that name a run (what its statuses carry), out of those on one of its media or
 * detection messages: without what is stamped on each message (capture clock, send time, an
 * edge's message id).
 */
export function runHeaders(headers: Headers): Headers {
  const {
    [CAPTURE_EPOCH_HEADER]: _epoch,
    [LIVE_FRAME_HEADER]: _sent,
    [EDGE_SEQ_HEADER]: _seq,
    ...run
  } = headers;
  return run;
}

/** The headers that carry a stream's choices to every stage after ingest. */
export function streamHeaders(choices: {
  labels?: Record<string, string>;
  rulesProfile?: string;
}): Record<string, string> {
  const headers: Record<string, string> = {};
  if (choices.rulesProfile && choices.rulesProfile !== DEFAULT_RULES_PROFILE) {
    headers[RULES_PROFILE_HEADER] = choices.rulesProfile;
  }
  if (choices.labels && Object.keys(choices.labels).length > 0) {
    headers[LABELS_HEADER] = encodeLabelsHeader(choices.labels);
  }
  return headers;
}

export function isAnalysisOrigin(headers: Headers): boolean {
  return headers[ORIGIN_HEADER] === ANALYSIS_ORIGIN;
}

function labelsProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'must be an object of names to strings';
  }
  for (const [key, label] of Object.entries(value)) {
    if (key === '') return 'must not have an empty name';
    if (typeof label !== 'string') return `must map names to strings (${key} is not one)`;
  }
  return undefined;
}
