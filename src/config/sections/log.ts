/** `[log]` section: logging. */
import { LOG_LEVELS } from '../../common/log.js';
import { configError, type ConfigSection, asObject, takeString } from '../schema.js';

export interface LogConfig {
  /** pino level; default "info". */
  readonly level: string;
}

export const DEFAULT_LOG_LEVEL = 'info';

export const logSection: ConfigSection<LogConfig> = {
  name: 'log',
  defaults: () => ({ level: DEFAULT_LOG_LEVEL }),
  validate(raw) {
    const o = asObject(raw, 'log');
    const level = takeString(o, 'level', 'log', DEFAULT_LOG_LEVEL);
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw configError(`log.level must be one of ${LOG_LEVELS.join(', ')}; got "${level}"`);
    }
    return { level };
  },
};
