/** `pnpm --dir apps/nestjs-demo start` */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createAppModule } from './app.module.js';
import { MAX_BODY_BYTES, configFromEnv, listenMtls } from '@wimse/demo-kit';
import { ProblemFilter, bodyParserErrors } from './problem.filter.js';

const config = configFromEnv(process.env, { workload: 'nestjs-demo', port: 3004 });
// rawBody: the guard needs the exact bytes to check an HTTP signature's Content-Digest.
const app = await NestFactory.create<NestExpressApplication>(createAppModule(config), { rawBody: true, logger: ['error', 'warn'] });
app.useBodyParser('json', { limit: MAX_BODY_BYTES });
// Other media types are parsed too, so their raw bytes are there to check a Content-Digest (echo then answers 415).
app.useBodyParser('text', { limit: MAX_BODY_BYTES, type: () => true });
// Body parser failures happen before routing: render them as problems too.
app.use(bodyParserErrors);
app.useGlobalFilters(new ProblemFilter());
app.enableShutdownHooks();
await app.listen(config.port, '127.0.0.1');
console.log(`[nestjs-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
// With WIMSE_MTLS_DIR: the same application over HTTPS with client certificates (Nest's
// "multiple servers" recipe: the initialised Express instance behind a second server).
const tls = await listenMtls(app.getHttpAdapter().getInstance(), config);
if (tls !== undefined) app.getHttpServer().once('close', () => void tls.close());
