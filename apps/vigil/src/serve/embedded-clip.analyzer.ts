import { randomUUID } from 'node:crypto';
import { streamIdFor } from '@app/contracts';
import { ClipAnalyzer, type ClipRequest, type ClipSink, type ClipSummary } from '@app/api';
import {
  ANALYSIS_ORIGIN,
  type EmbeddedPipeline,
  ORIGIN_HEADER,
  RULES_PROFILE_HEADER,
} from '@app/pipeline';

/**
 * AnalysisService for `vigil serve`: an uploaded clip runs through the same stages as the
 * cameras, marked as an analysis so its incidents are answered to the caller and neither
 * recorded nor alerted.
 */
export class EmbeddedClipAnalyzer extends ClipAnalyzer {
  constructor(
    private readonly pipeline: EmbeddedPipeline,
    private readonly defaults: { models: string[]; fps: number },
  ) {
    super();
  }

  capabilities() {
    return { ...this.defaults, rulesProfiles: this.pipeline.profiles() };
  }

  async analyze(request: ClipRequest, sink: ClipSink, signal: AbortSignal): Promise<ClipSummary> {
    // Named like `vigil analyze` names a file, so the same clip gets the same event ids; a
    // suffix only when a stream of that name is busy in this process.
    const named = streamIdFor(request.name);
    const streamId = this.pipeline.isActive(named) ? `${named}-${randomUUID().slice(0, 8)}` : named;
    const incidents = new Set<string>();
    const result = await this.pipeline.analyze(
      {
        streamId,
        source: request.path,
        fps: request.fps,
        signal,
        headers: { [ORIGIN_HEADER]: ANALYSIS_ORIGIN, [RULES_PROFILE_HEADER]: request.rulesProfile },
      },
      {
        onDetections: (set) => sink.detections(set),
        onEvent: (event) => {
          incidents.add(event.incidentId);
          sink.incident(event);
        },
      },
    );
    return {
      streamId,
      decodedSec: result.decodedSec,
      hasAudio: result.info.hasAudio,
      hasVideo: result.info.hasVideo,
      truncated: result.summary.truncated,
      incidents: incidents.size,
    };
  }
}
