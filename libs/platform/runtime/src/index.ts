export { exitGracefullyOnSignals, exitOnStartupError } from './process.lifecycle';
export { startWithWorkers } from './process.workers';
