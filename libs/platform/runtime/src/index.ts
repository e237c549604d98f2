export { exitGracefullyOnSignals, exitOnStartupError } from './process.lifecycle';
