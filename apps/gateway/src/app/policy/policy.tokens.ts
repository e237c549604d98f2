/** The parsed `AUTH_POLICY_FILE` (`PolicyFile`): scope rules, and the rate limits of the rate-limit stage. */
export const POLICY_FILE = Symbol('POLICY_FILE');
