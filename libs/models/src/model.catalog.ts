import cedTiny from './catalog/ced-tiny.model.json';
import efficientatMn04 from './catalog/efficientat-mn04.model.json';
import fastestdet from './catalog/fastestdet.model.json';
import yamnet from './catalog/yamnet.model.json';
import yoloxNano from './catalog/yolox-nano.model.json';
import { validateManifest } from './model.manifest';
import type { ModelManifest } from './model.manifest';

/**
 * The models Vigil knows how to fetch and run, keyed by folder name. Static JSON imports (not
 * a directory scan) so a bundled build carries the catalog with it.
 */
export const MODEL_CATALOG: Readonly<Record<string, ModelManifest>> = Object.freeze({
  'efficientat-mn04': validateManifest(efficientatMn04, 'catalog/efficientat-mn04.model.json'),
  'yolox-nano': validateManifest(yoloxNano, 'catalog/yolox-nano.model.json'),
  fastestdet: validateManifest(fastestdet, 'catalog/fastestdet.model.json'),
  yamnet: validateManifest(yamnet, 'catalog/yamnet.model.json'),
  'ced-tiny': validateManifest(cedTiny, 'catalog/ced-tiny.model.json'),
});

export const DEFAULT_AUDIO_MODEL = 'efficientat-mn04';
export const DEFAULT_VIDEO_MODEL = 'yolox-nano';
