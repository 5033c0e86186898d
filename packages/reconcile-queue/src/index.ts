export { JOB, QUEUE_NAME } from './names.js';
export { holderRunningIn, holderRunningWithWorkers } from './pass-holder.js';
