import { MetricsHttpServer } from './metrics.http-server';
import { VigilMetrics } from './vigil.metrics';

describe('MetricsHttpServer', () => {
  it('serves what was counted in the Prometheus text format, and nothing else', async () => {
    const metrics = new VigilMetrics({ app: 'test', processMetrics: false });
    metrics.incidentVersion({ rule: 'gunshot', severity: 'critical', state: 'opened' });
    metrics.detectorFrame('skipped');
    metrics.detectorFrame('skipped');
    metrics.inference('audio', 'efficientat-mn04', 0.004, 3);
    metrics.inference('video', 'yolox-nano-int8', 0.01, 1, 'int8');
    metrics.webhookObserver.dead({ subscriptionId: 'ops' });
    metrics.incidentLatency('high', 0.3);
    metrics.busObserver.published('vigil.media.audio', 1000);
    metrics.busObserver.handled('vigil.media.audio', 'vigil-spectrogram', 1000, 0.002);
    metrics.busObserver.deadLettered('vigil.detections', 'vigil-fusion', 'decode');
    metrics.busObserver.lag('vigil.detections', 'vigil-fusion', 0, 7);
    metrics.busObserver.lag('vigil.detections', 'vigil-fusion', 1, 3);
    metrics.busObserver.lag('vigil.detections', 'vigil-fusion', 1, undefined); // given up
    const server = new MetricsHttpServer(metrics);
    const address = await server.listen('127.0.0.1:0');
    try {
      const response = await fetch(`http://${address}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain(
        'vigil_incident_versions_total{rule="gunshot",severity="critical",state="opened",app="test"} 1',
      );
      expect(text).toContain('vigil_detector_frames_total{outcome="skipped",app="test"} 2');
      expect(text).toMatch(
        /^vigil_inference_batch_size_sum\{[^}]*modality="audio",model="efficientat-mn04"\} 3$/m,
      );
      // Inference time names the precision in use (fp32 unless said).
      expect(text).toContain(
        'vigil_inference_seconds_count{app="test",modality="audio",model="efficientat-mn04",precision="fp32"} 1',
      );
      expect(text).toContain(
        'vigil_inference_seconds_count{app="test",modality="video",model="yolox-nano-int8",precision="int8"} 1',
      );
      expect(text).toContain(
        'vigil_webhook_deliveries_total{subscription="ops",outcome="dead",app="test"} 1',
      );
      expect(text).toMatch(
        /^vigil_capture_to_incident_seconds_bucket\{le="0.5",[^}]*severity="high"\} 1$/m,
      );
      expect(text).toContain(
        'vigil_bus_bytes_total{topic="vigil.media.audio",direction="published",group="",app="test"} 1000',
      );
      expect(text).toContain(
        'vigil_bus_messages_total{topic="vigil.media.audio",direction="handled",group="vigil-spectrogram",app="test"} 1',
      );
      expect(text).toContain(
        'vigil_bus_dead_letters_total{topic="vigil.detections",group="vigil-fusion",cause="decode",app="test"} 1',
      );
      expect(text).toContain(
        'vigil_consumer_lag_messages{topic="vigil.detections",group="vigil-fusion",partition="0",app="test"} 7',
      );
      expect(text).not.toContain('partition="1"');
      expect(text).not.toContain('process_cpu_seconds_total');
      expect((await fetch(`http://${address}/`)).status).toBe(404);
      expect((await fetch(`http://${address}/metrics`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
