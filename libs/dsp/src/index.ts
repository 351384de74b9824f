export { EFFICIENTAT_RECIPE, assertValidRecipe, frameCountFor } from './logmel.recipe';
export type { LogMelRecipe } from './logmel.recipe';
export { LogMelExtractor } from './logmel.extractor';
export { StreamingLogMel } from './logmel.stream';
export { WindowAssembler } from './window.assembler';
export type { AssembledWindow, WindowAssemblerOptions } from './window.assembler';
export { kaldiMelMatrix, kaldiMelScale, kaldiSparseMelBank } from './kaldi.melbank';
export type { MelBankSpec, SparseMelBank } from './kaldi.melbank';
