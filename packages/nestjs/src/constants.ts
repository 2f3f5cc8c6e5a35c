/** Injection tokens and metadata keys. */
import { MODULE_OPTIONS_TOKEN } from './module-definition.js';

/** The adapter options given to `WimseModule.forRoot` / `forRootAsync`. */
export const WIMSE_OPTIONS = MODULE_OPTIONS_TOKEN;
/** The core `WimseHandler` built from those options. */
export const WIMSE_HANDLER = Symbol('WIMSE_HANDLER');

export const PUBLIC_KEY = 'wimse:public';
export const OPTIONAL_KEY = 'wimse:optional';
export const ALLOW_KEY = 'wimse:allow';
export const SCOPE_KEY = 'wimse:scope';
