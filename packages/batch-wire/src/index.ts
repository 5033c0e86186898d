export { BATCH_FRAME_CONTENT_TYPE, BatchFrameError, decodeBatchFrame, encodeBatchFrame } from './frame.js';
