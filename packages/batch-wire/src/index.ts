export { BATCH_FORMATS, BATCH_FORMATS_HEADER, BATCH_FRAME_CONTENT_TYPE, BatchFrameError, decodeBatchFrame, encodeBatchFrame } from './frame.js';
