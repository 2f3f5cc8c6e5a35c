export * from './attested.js';
export * from './config.js';
export * from './edge.js';
export * from './http.js';
export * from './relay.js';
export * from './mtls.js';
